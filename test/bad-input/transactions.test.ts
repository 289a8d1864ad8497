// A transaction that throws halfway: QEMU has no rollback, and neither do we;
// what was done before the throw is committed (one re-render), the error
// reaches the caller, and the model and the KVM slot table stay consistent:
// the slots equal what the flat view calls for and the guest sees the
// committed map.
import { Machine, MemoryRegion, transaction, transactionDepth } from '../../lib';
import { describeKvm } from '../helpers/kvm';
import { slotsForFlatView, slotTable } from '../helpers/slots';

describeKvm('transactions that throw halfway', () => {
  test('the changes made before the throw are committed; slots equal the flat view; the guest sees them', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    const extra = MemoryRegion.ram('extra', 0x2000);
    const moved = MemoryRegion.ram('moved', 0x1000);
    try {
      m.memory.root.addSubregion(0x1000_0000n, moved);
      extra.bytes().fill(0x5a);
      const before = m.mtree({ flat: true });
      expect(() => transaction(() => {
        m.memory.root.addSubregion(0x2000_0000n, extra);
        moved.setAddress(0x3000_0000n);
        m.memory.root.addSubregion(0x2000_0000n, extra); // misuse: already mapped
      })).toThrow(/already a subregion/);
      expect(transactionDepth()).toBe(0); // the batch was closed
      expect(m.mtree({ flat: true })).not.toBe(before);
      expect(m.memory.system.findSection(0x2000_0000n, 1n)?.mr).toBe(extra);
      expect(m.memory.system.findSection(0x3000_0000n, 1n)?.mr).toBe(moved);
      expect(m.memory.system.findSection(0x1000_0000n, 1n)).toBeNull();
      expect(slotTable(m.vm)).toEqual(slotsForFlatView(m.memory.system));
      // The guest reads the RAM that was mapped in the aborted batch:
      // mov eax, [0x20000000]; mov dx, 0x501; out dx, al (exit code (0x5a << 1) | 1)
      m.load(Uint8Array.of(0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x20, 0x66, 0xba, 0x01, 0x05, 0xee, 0xf4));
      expect(m.runSync({ timeoutMs: 2000 })).toMatchObject({ reason: 'debugExit', exitCode: 0xb5 });
    } finally {
      m.close();
      extra.close();
      moved.close();
    }
  });

  test('a throw with nothing changed leaves everything as it was', () => {
    const m = Machine.createSync({ memory: '4M', serial: { output: null } });
    try {
      const flat = m.mtree({ flat: true });
      const slots = slotTable(m.vm);
      expect(() => transaction(() => { throw new Error('changed my mind'); })).toThrow('changed my mind');
      expect(m.mtree({ flat: true })).toBe(flat);
      expect(slotTable(m.vm)).toEqual(slots);
    } finally {
      m.close();
    }
  });
});
