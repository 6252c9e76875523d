/** Building and finding the page's elements. Text always goes in as text nodes, never as HTML. */

/** A child of {@link h}: a node, or text (a string or a number); nothing for null, undefined, false. */
export type Child = Node | string | number | null | undefined | false;

type AttrValue = string | number | boolean | null | undefined | ((event: Event) => unknown);

/** Attributes; `className` sets the class, `on…` functions become listeners, `true` is present. */
export type Attrs = Readonly<Record<string, AttrValue>>;

function appendChildren(el: Element, children: readonly (Child | readonly Child[])[]): void {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | readonly Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') {
      if (!key.startsWith('on')) throw new Error(`Attribute ${key}: only on… attributes take a function.`);
      el.addEventListener(key.slice(2), value);
    } else if (key === 'className') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  appendChildren(el, children);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes and children. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Readonly<Record<string, string | number>> = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  appendChildren(el, children);
  return el;
}

/** The page's element with this id, of this type; throws when the markup (page.ts) lacks it. */
export function byId<T extends HTMLElement>(id: string, type: { new (): T; readonly prototype: T }): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) {
    throw new Error(`The console page has no ${type.name} #${id}: page.ts and the script disagree.`);
  }
  return el;
}

/** A pre-formatted JSON block. */
export const jsonBlock = (value: unknown): HTMLPreElement => h('pre', {}, JSON.stringify(value, null, 2));
