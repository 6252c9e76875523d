import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'coverage/', '.local-data/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The console page's script runs in a browser: its undefined names are checked by
    // `tsc -p local/console/client` (DOM library, no Node types), as typescript-eslint advises
    // for TypeScript instead of no-undef; here, nothing of Node, and no HTML made from strings
    // unless a reviewed escaping renderer made it.
    files: ['local/console/client/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['node:*'], message: 'The console client runs in a browser.' }] },
      ],
      'no-restricted-globals': [
        'error',
        ...['process', 'Buffer', 'require', 'module', '__dirname', '__filename', 'global'].map((name) => ({
          name,
          message: 'The console client runs in a browser.',
        })),
      ],
      'no-restricted-properties': [
        'error',
        ...['innerHTML', 'outerHTML', 'insertAdjacentHTML'].map((property) => ({
          property,
          message: 'Put text in as text nodes (h()); HTML only from an escaping renderer, said why.',
        })),
      ],
    },
  },
);
