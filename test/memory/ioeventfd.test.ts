// ioeventfds (semantics §4.4, §4.6) and the listener order of §9.30:
// eventfd_add runs in reverse listener order and eventfd_del forward, the
// inverse of region_add/region_del.
import {
  AddressSpace, type IoEventfd, type MemoryListener, MemoryRegion, MemoryRegionError, transaction,
} from '../../lib/memory';

const closers: (() => void)[] = [];
afterEach(() => { while (closers.length) closers.pop()!(); });

function space(root: MemoryRegion, name = 'io-test'): AddressSpace {
  const as = new AddressSpace(root, name);
  closers.push(() => as.destroy());
  return as;
}

/** A listener that logs `<tag> <call> <where>` lines into a shared log. */
function logger(tag: string, log: string[], priority: number): MemoryListener {
  const fd = (e: IoEventfd) => `0x${e.addr.toString(16)}+${e.size}${e.matchData ? `=${e.data}` : ''}`;
  return {
    priority,
    begin: () => log.push(`${tag} begin`),
    commit: () => log.push(`${tag} commit`),
    regionAdd: (s) => log.push(`${tag} add ${s.mr.name}`),
    regionDel: (s) => log.push(`${tag} del ${s.mr.name}`),
    eventfdAdd: (e) => log.push(`${tag} eventfd_add ${fd(e)}`),
    eventfdDel: (e) => log.push(`${tag} eventfd_del ${fd(e)}`),
  };
}

const notifier = { name: 'doorbell' };

describe('ioeventfds', () => {
  test('§9.30: eventfd_add in reverse listener order, eventfd_del forward (regions: the opposite)', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const dev = MemoryRegion.io('dev', 0x100, {});
    dev.addEventfd(0x10, 4, false, 0, notifier);
    const as = space(root);
    const log: string[] = [];
    as.addListener(logger('A', log, 0));
    as.addListener(logger('B', log, 10));
    log.length = 0;
    root.addSubregion(0x1000n, dev);
    expect(log).toEqual([
      'A begin', 'B begin',
      'A add dev', 'B add dev', // region_add: forward
      'B eventfd_add 0x1010+4', 'A eventfd_add 0x1010+4', // eventfd_add: reverse
      'A commit', 'B commit',
    ]);
    log.length = 0;
    root.removeSubregion(dev);
    expect(log).toEqual([
      'A begin', 'B begin',
      'B del dev', 'A del dev', // region_del: reverse
      'A eventfd_del 0x1010+4', 'B eventfd_del 0x1010+4', // eventfd_del: forward
      'A commit', 'B commit',
    ]);
    dev.close();
    root.close();
  });

  test('shifted into address-space coordinates through every range that shows the region, kept whole', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const dev = MemoryRegion.io('dev', 0x100, {});
    const alias = MemoryRegion.alias('dev-alias', dev, 0x10, 0x20); // dev 0x10..0x2f at 0x5000
    const cover = MemoryRegion.io('cover', 0x10, {}); // hides dev 0x00..0x0f
    dev.addEventfd(0x08, 0x10, false, 0, notifier); // 0x08..0x17: partly hidden by cover, partly in the alias window
    dev.addEventfd(0x80, 2, true, 0x1234, notifier); // outside the alias window
    const as = space(root);
    const log: string[] = [];
    as.addListener(logger('L', log, 0));
    log.length = 0;
    transaction(() => {
      root.addSubregion(0x1000n, dev);
      root.addSubregionOverlap(0x1000n, cover, 1);
      root.addSubregion(0x5000n, alias);
    });
    // dev shows at 0x1010..0x10ff: the first fd intersects it and is kept whole (0x1008+16).
    // Through the alias (dev+0x10 at 0x5000) the first fd starts at 0x4ff8 and intersects [0x5000, 0x5020).
    expect(log.filter((l) => l.includes('eventfd'))).toEqual([
      'L eventfd_add 0x1008+16', 'L eventfd_add 0x1080+2=4660', 'L eventfd_add 0x4ff8+16',
    ]);
    log.length = 0;
    cover.setSize(0x20); // now hides dev 0x00..0x1f: the first fd no longer shows at 0x1000
    expect(log.filter((l) => l.includes('eventfd'))).toEqual(['L eventfd_del 0x1008+16']);
    for (const mr of [alias, cover, dev, root]) mr.close();
  });

  test('a disabled region contributes none; enabling it adds them; eventfd-only changes have no begin/commit', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const dev = MemoryRegion.io('dev', 0x100, {});
    dev.setEnabled(false);
    root.addSubregion(0x2000n, dev);
    const as = space(root);
    const log: string[] = [];
    as.addListener(logger('L', log, 0));
    log.length = 0;
    dev.addEventfd(0, 0, false, 0, notifier);
    expect(log).toEqual([]);
    dev.setEnabled(true);
    expect(log).toEqual(['L begin', 'L add dev', 'L eventfd_add 0x2000+0', 'L commit']);
    log.length = 0;
    dev.addEventfd(4, 4, true, 7, notifier);
    expect(log).toEqual(['L eventfd_add 0x2004+4=7']);
    log.length = 0;
    dev.delEventfd(4, 4, true, 7, notifier);
    expect(log).toEqual(['L eventfd_del 0x2004+4=7']);
    root.removeSubregion(dev);
    dev.close();
    root.close();
  });

  test('the diff walks in address order; match data and data are part of the identity', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const dev = MemoryRegion.io('dev', 0x100, {});
    root.addSubregion(0n, dev);
    const as = space(root);
    const log: string[] = [];
    as.addListener(logger('L', log, 0));
    log.length = 0;
    transaction(() => {
      dev.addEventfd(0x20, 4, true, 2, notifier);
      dev.addEventfd(0x20, 4, true, 1, notifier);
      dev.addEventfd(0x10, 4, false, 0, notifier);
    });
    expect(log).toEqual(['L eventfd_add 0x10+4', 'L eventfd_add 0x20+4=1', 'L eventfd_add 0x20+4=2']);
    expect(dev.ioeventfds.map((e) => `${e.addr}:${e.data}`)).toEqual(['16:0', '32:1', '32:2']);
    root.removeSubregion(dev);
    dev.close();
    root.close();
  });

  test('delEventfd: size 0 matches any size at that address; an unknown one is refused, nothing changes', () => {
    const dev = MemoryRegion.io('dev', 0x100, {});
    dev.addEventfd(0x10, 4, true, 9, notifier);
    expect(() => dev.delEventfd(0x14, 4, true, 9, notifier)).toThrow(MemoryRegionError);
    expect(dev.ioeventfds).toHaveLength(1);
    dev.delEventfd(0x10, 0, false, 0, notifier);
    expect(dev.ioeventfds).toHaveLength(0);
    dev.close();
  });

  test('listener registration replays eventfd_add; removal replays eventfd_del', () => {
    const root = MemoryRegion.container('root', 0x10000);
    const dev = MemoryRegion.io('dev', 0x100, {});
    dev.addEventfd(0x40, 8, false, 0, notifier);
    root.addSubregion(0x3000n, dev);
    const as = space(root);
    const log: string[] = [];
    const l = logger('L', log, 0);
    as.addListener(l);
    expect(log).toEqual(['L begin', 'L add dev', 'L eventfd_add 0x3040+8', 'L commit']);
    log.length = 0;
    as.removeListener(l);
    expect(log).toEqual(['L begin', 'L del dev', 'L eventfd_del 0x3040+8', 'L commit']);
    root.removeSubregion(dev);
    dev.close();
    root.close();
  });

  test('bad input: outside the region, a notifier that is not an object, a non-boolean matchData', () => {
    const dev = MemoryRegion.io('dev', 0x100, {});
    expect(() => dev.addEventfd(0xfe, 4, false, 0, notifier)).toThrow(RangeError);
    expect(() => dev.addEventfd(0, 4, false, 0, 'fd' as never)).toThrow(TypeError);
    expect(() => dev.addEventfd(0, 4, 1 as never, 0, notifier)).toThrow(TypeError);
    expect(() => dev.addEventfd(0, 4, false, -1, notifier)).toThrow(RangeError);
    expect(dev.ioeventfds).toHaveLength(0);
    dev.close();
  });
});
