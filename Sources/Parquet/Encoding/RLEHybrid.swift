// The RLE / bit-packing hybrid of Encodings.md, used for definition levels (with a 4-byte length
// prefix in data page v1) and dictionary indices (after a 1-byte bit width, no prefix).

enum RLEHybrid {
    /// The bits needed for values up to `maxValue` (0 for 0).
    static func bitWidth(forMax maxValue: UInt32) -> Int {
        maxValue == 0 ? 0 : 32 - maxValue.leadingZeroBitCount
    }

    /// Appends `values` encoded with `bitWidth` (1…32). Runs of 8 or more equal values become RLE
    /// runs; the rest is bit-packed in groups of 8, padded with zeros only at the very end.
    static func encode<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, bitWidth: Int, into out: inout [UInt8]) {
        precondition((1...32).contains(bitWidth))
        let n = values.count
        var i = 0
        while i < n {
            let run = runLength(values, from: i)
            if run >= 8 {
                appendVarint(UInt64(run) << 1, to: &out)
                appendValue(UInt32(truncatingIfNeeded: values[i]), width: bitWidth, to: &out)
                i += run
                continue
            }
            // A bit-packed run: whole groups of 8 until a long run starts at a group boundary.
            let start = i
            repeat {
                i += 8
            } while i < n && runLength(values, from: i) < 8
            let end = min(i, n)
            let groups = (end - start + 7) / 8
            appendVarint(UInt64(groups) << 1 | 1, to: &out)
            bitPack(values, from: start, to: end, groups: groups, bitWidth: bitWidth, into: &out)
            i = end
        }
    }

    private static func runLength<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, from start: Int) -> Int {
        let v = values[start]
        var j = start + 1
        while j < values.count && values[j] == v { j += 1 }
        return j - start
    }

    private static func bitPack<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>, from start: Int, to end: Int, groups: Int,
                                bitWidth: Int, into out: inout [UInt8]) {
        var accumulator: UInt64 = 0
        var bits = 0
        let mask: UInt64 = bitWidth == 32 ? 0xFFFF_FFFF : (1 << UInt64(bitWidth)) - 1
        for k in start..<(start + groups * 8) {
            let v = k < end ? UInt64(values[k]) & mask : 0
            accumulator |= v << UInt64(bits)
            bits += bitWidth
            while bits >= 8 {
                out.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator >>= 8
                bits -= 8
            }
        }
    }

    private static func appendValue(_ v: UInt32, width: Int, to out: inout [UInt8]) {
        var value = v
        for _ in 0..<((width + 7) / 8) {
            out.append(UInt8(truncatingIfNeeded: value))
            value >>= 8
        }
    }

    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    /// Decodes exactly `count` values from `bytes`, appending them to `out`. Throws when the data
    /// ends first or a run is malformed; bytes after the last needed value are ignored.
    static func decode(_ bytes: UnsafeRawBufferPointer, bitWidth: Int, count: Int, into out: inout [UInt32]) throws(ParquetError) {
        guard (0...32).contains(bitWidth) else { throw .malformed("RLE bit width \(bitWidth)") }
        out.reserveCapacity(out.count + count)
        if bitWidth == 0 {
            // Every value is 0 (a one-entry dictionary written by a writer that allows width 0).
            out.append(contentsOf: repeatElement(0, count: count))
            return
        }
        var position = 0
        var remaining = count
        let valueBytes = (bitWidth + 7) / 8
        while remaining > 0 {
            let header = try readVarint(bytes, &position)
            if header & 1 == 0 {
                let run = header >> 1
                guard run > 0 else { throw .malformed("RLE run of length 0") }
                guard valueBytes <= bytes.count - position else { throw .malformed("RLE run value past the end of its data") }
                var value: UInt32 = 0
                for b in 0..<valueBytes { value |= UInt32(bytes[position + b]) << UInt32(8 * b) }
                position += valueBytes
                guard bitWidth == 32 || value >> UInt32(bitWidth) == 0 else { throw .malformed("RLE value \(value) wider than \(bitWidth) bits") }
                let take = Int(min(run, UInt64(remaining)))
                out.append(contentsOf: repeatElement(value, count: take))
                remaining -= take
            } else {
                let groups = header >> 1
                guard groups > 0, groups <= UInt64(bytes.count) else { throw .malformed("bit-packed run of \(groups) groups") }
                let values = min(Int(groups) * 8, remaining)
                var accumulator: UInt64 = 0
                var bits = 0
                let mask: UInt64 = bitWidth == 32 ? 0xFFFF_FFFF : (1 << UInt64(bitWidth)) - 1
                var p = position
                for _ in 0..<values {
                    while bits < bitWidth {
                        guard p < bytes.count else { throw .malformed("bit-packed run past the end of its data") }
                        accumulator |= UInt64(bytes[p]) << UInt64(bits)
                        p += 1
                        bits += 8
                    }
                    out.append(UInt32(truncatingIfNeeded: accumulator & mask))
                    accumulator >>= UInt64(bitWidth)
                    bits -= bitWidth
                }
                remaining -= values
                // The run occupies all its groups, used or not.
                position = min(bytes.count, position + Int(groups) * bitWidth)
            }
        }
    }

    private static func readVarint(_ bytes: UnsafeRawBufferPointer, _ position: inout Int) throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw .malformed("RLE data ends inside a run header") }
            guard shift < 64 else { throw .malformed("RLE run header longer than 10 bytes") }
            let b = bytes[position]
            position += 1
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }
}
