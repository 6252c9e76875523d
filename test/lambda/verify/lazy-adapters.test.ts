import type { BusEntry } from '../../../lambda/shared/contract';
import type { BodyStore, Spool } from '../../../lambda/verify/ports';
import { onFirstUse } from '../../../lambda/shared/on-first-use';
import { createLazyBodyStore, createLazySpool } from '../../../lambda/verify/lazy-adapters';

const entry: BusEntry = { source: 'buildkite', detailType: 'ping', detail: '{"event":"ping"}' };

describe('onFirstUse', () => {
  it('does not load until first called, then loads once for every caller', async () => {
    // Prepare
    const load = jest.fn(async () => ({ id: 1 }));
    const get = onFirstUse(load);
    expect(load).not.toHaveBeenCalled();

    // Act
    const [a, b] = await Promise.all([get(), get()]);
    const c = await get();

    // Assess
    expect(load).toHaveBeenCalledTimes(1);
    expect(a).toBe(b);
    expect(c).toBe(a);
  });

  it('forgets a failed load, so the next call tries again', async () => {
    const load = jest
      .fn<Promise<string>, []>()
      .mockRejectedValueOnce(new Error('chunk missing'))
      .mockResolvedValue('loaded');
    const get = onFirstUse(load);

    await expect(get()).rejects.toThrow('chunk missing');
    await expect(get()).resolves.toBe('loaded');
    await expect(get()).resolves.toBe('loaded');
    expect(load).toHaveBeenCalledTimes(2);
  });
});

describe('lazy adapters', () => {
  it('a lazy spool loads its adapter on the first put and passes every entry through', async () => {
    const put = jest.fn<Promise<void>, [BusEntry]>().mockResolvedValue();
    const load = jest.fn(async (): Promise<Spool> => ({ put }));
    const spool = createLazySpool(load);
    expect(load).not.toHaveBeenCalled();

    await spool.put(entry);
    await spool.put(entry);

    expect(load).toHaveBeenCalledTimes(1);
    expect(put.mock.calls).toEqual([[entry], [entry]]);
  });

  it('a lazy spool rejects with the adapter error (the deliverer then answers 503)', async () => {
    const spool = createLazySpool(async () => ({
      put: async () => {
        throw new Error('QueueDoesNotExist');
      },
    }));
    await expect(spool.put(entry)).rejects.toThrow('QueueDoesNotExist');
  });

  it('a lazy body store loads on the first put and returns the real store answer', async () => {
    const body = Buffer.from('{"big":true}');
    const put = jest.fn(async (key: string) => ({ bucket: 'b', key }));
    const load = jest.fn(async (): Promise<BodyStore> => ({ put }));
    const store = createLazyBodyStore(load);
    expect(load).not.toHaveBeenCalled();

    await expect(store.put('oversized/k1', body)).resolves.toEqual({ bucket: 'b', key: 'oversized/k1' });

    expect(load).toHaveBeenCalledTimes(1);
    expect(put).toHaveBeenCalledWith('oversized/k1', body);
  });
});
