// Dictionary building for column chunks: open addressing with linear probing over raw bits or
// raw bytes. Swift's Dictionary hashes with SipHash and, for String, Unicode rules; neither is
// wanted for exact byte-level dictionary entries, and both cost several times more per row.

/// Distinct fixed-width values (as their 64-bit patterns) in first-seen order.
struct FixedWidthDictionary {
    private(set) var entries: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
    }

    @inline(__always)
    private static func hash(_ key: UInt64) -> Int {
        var h = key &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 29
        return Int(truncatingIfNeeded: h)
    }

    /// The index of `key`, inserting it if new.
    @inline(__always)
    mutating func index(of key: UInt64) -> UInt32 {
        var slot = Self.hash(key) & mask
        while true {
            let e = slots[slot]
            if e < 0 {
                let index = Int32(entries.count)
                entries.append(key)
                slots[slot] = index
                if entries.count * 2 > slots.count { grow() }
                return UInt32(index)
            }
            if entries[Int(e)] == key { return UInt32(e) }
            slot = (slot + 1) & mask
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for (i, key) in entries.enumerated() {
            var slot = Self.hash(key) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(i)
        }
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
