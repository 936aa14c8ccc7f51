// Dictionary building for column chunks: open addressing with linear probing over raw bits or
// raw bytes. Swift's Dictionary hashes with SipHash and, for String, Unicode rules; neither is
// wanted for exact byte-level dictionary entries, and both cost several times more per row.

/// Dictionary encoding of fixed-width values (as their 64-bit patterns), entries in first-seen
/// order. The table and the output arrays are kept between column chunks (a writer owns one), so
/// a row group does not allocate and fault in megabytes per column.
struct FixedWidthDictionaryEncoder {
    private struct Slot {
        var key: UInt64
        /// Entry number + 1; 0 marks an empty slot.
        var entry: UInt32
    }

    private var slots: [Slot] = []
    private(set) var entries: [UInt64] = []
    private(set) var indices: [UInt32] = []

    /// Encodes `count` keys (`key(i)`); `indices` and `entries` hold the result. Returns false, and
    /// stops early, when more than `maxEntries` distinct keys appear, or when the first `sample`
    /// keys are more than 90% distinct (PLAIN will be smaller).
    mutating func encode(count: Int, maxEntries: Int, sample: Int, key: (Int) -> UInt64) -> Bool {
        var size = 1024
        let expected = min(maxEntries + 1, count)
        while size < expected * 2 { size <<= 1 }
        if slots.count != size {
            slots = [Slot](repeating: Slot(key: 0, entry: 0), count: size)
        } else {
            slots.withUnsafeMutableBytes { _ = memset($0.baseAddress!, 0, $0.count) }
        }
        if indices.count < count { indices = [UInt32](repeating: 0, count: count) }
        entries.removeAll(keepingCapacity: true)
        entries.reserveCapacity(min(maxEntries + 1, count))
        let mask = size - 1
        var distinct = 0
        let ok = slots.withUnsafeMutableBufferPointer { table -> Bool in
            indices.withUnsafeMutableBufferPointer { out -> Bool in
                for i in 0..<count {
                    let k = key(i)
                    var h = k &* 0x9E37_79B9_7F4A_7C15
                    h ^= h >> 29
                    var slot = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let e = table[slot].entry
                        if e == 0 {
                            distinct += 1
                            if distinct > maxEntries { return false }
                            table[slot] = Slot(key: k, entry: UInt32(distinct))
                            entries.append(k)
                            out[i] = UInt32(distinct - 1)
                            break
                        }
                        if table[slot].key == k {
                            out[i] = e - 1
                            break
                        }
                        slot = (slot + 1) & mask
                    }
                    if i + 1 == sample, distinct * 10 > sample * 9 { return false }
                }
                return true
            }
        }
        return ok
    }
}

/// Distinct byte strings in first-seen order, stored back to back.
struct ByteStringDictionary {
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { offsets.count - 1 }

    func entry(_ i: Int) -> ArraySlice<UInt8> { bytes[offsets[i]..<offsets[i + 1]] }

    @inline(__always)
    static func hash(_ value: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(value.count)
        var i = 0
        while i + 8 <= value.count {
            h = (h ^ value.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 32
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < value.count {
            tail |= UInt64(value[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        return h
    }

    /// The index of `value`, inserting it if new.
    mutating func index(of value: UnsafeRawBufferPointer) -> UInt32 {
        let h = Self.hash(value)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = slots[slot]
            if e < 0 {
                let index = Int32(count)
                bytes.append(contentsOf: value)
                offsets.append(bytes.count)
                hashes.append(h)
                slots[slot] = index
                if count * 2 > slots.count { grow() }
                return UInt32(index)
            }
            let i = Int(e)
            if hashes[i] == h, offsets[i + 1] - offsets[i] == value.count, value.isEmpty ||
               bytes.withUnsafeBytes({ memcmp($0.baseAddress! + offsets[i], value.baseAddress!, value.count) == 0 }) {
                return UInt32(e)
            }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (i, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
