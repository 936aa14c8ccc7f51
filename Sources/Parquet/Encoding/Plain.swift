// PLAIN encoding (Encodings.md): fixed-width values little-endian, booleans bit-packed LSB first,
// BYTE_ARRAY as a 4-byte little-endian length and the bytes, FIXED_LEN_BYTE_ARRAY as the bytes.

enum Plain {
    static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    static func append(_ value: Double, to out: inout [UInt8]) {
        append(value.bitPattern, to: &out)
    }

    /// Appends a whole array of fixed-width values (little-endian on every platform Swift runs
    /// Sluice on, so the memory is the encoding).
    static func appendAll<T: FixedWidthInteger>(_ values: UnsafeBufferPointer<T>, to out: inout [UInt8]) {
        if 1.littleEndian == 1 {
            out.append(contentsOf: UnsafeRawBufferPointer(values))
        } else {
            for v in values { append(v, to: &out) }
        }
    }

    static func appendBooleans(_ values: some Collection<Bool>, to out: inout [UInt8]) {
        var byte: UInt8 = 0
        var bit = 0
        for v in values {
            if v { byte |= 1 << UInt8(bit) }
            bit += 1
            if bit == 8 { out.append(byte); byte = 0; bit = 0 }
        }
        if bit > 0 { out.append(byte) }
    }

    static func appendByteArray(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        append(UInt32(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    // MARK: Reading

    static func read<T: FixedWidthInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, at position: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: position, as: T.self))
    }

    /// `count` fixed-width values from the start of `bytes`.
    static func readAll<T: FixedWidthInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, count: Int) throws(ParquetError) -> [T] {
        let width = MemoryLayout<T>.size
        guard count <= bytes.count / width else {
            throw .malformed("PLAIN page holds \(bytes.count) bytes, \(count) values of \(width) bytes need \(count * width)")
        }
        return (0..<count).map { read(T.self, bytes, at: $0 * width) }
    }

    static func readBooleans(_ bytes: UnsafeRawBufferPointer, count: Int) throws(ParquetError) -> [Bool] {
        guard count <= bytes.count * 8 else { throw .malformed("PLAIN boolean page holds \(bytes.count) bytes for \(count) values") }
        return (0..<count).map { bytes[$0 >> 3] & (1 << UInt8($0 & 7)) != 0 }
    }
}
