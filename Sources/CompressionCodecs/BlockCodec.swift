/// Whole-buffer compression for file formats that compress blocks (Parquet pages): each codec
/// wraps one system C library, in one file, the only place with `Unsafe` code for it.
///
/// Codec objects keep their C contexts between calls (a zstd context costs far more to make than
/// a 1 MiB page costs to compress), so they are classes owned by one writer or reader at a time
/// and deliberately not `Sendable`.
public protocol BlockCodec: AnyObject {
    /// Appends the compressed form of `input` to `output`.
    func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(CompressionError)
    /// Decompresses `input`, which must expand to exactly `expectedSize` bytes. Never allocates
    /// more than `expectedSize` for the result, whatever the input claims.
    func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(CompressionError) -> [UInt8]
}

public struct CompressionError: Error, CustomStringConvertible, Sendable {
    public var codec: String
    public var message: String

    public init(codec: String, _ message: String) {
        self.codec = codec
        self.message = message
    }

    public var description: String { "\(codec): \(message)" }
}

extension BlockCodec {
    public func compress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
        var out: [UInt8] = []
        try withRawBytes(input) { (raw: UnsafeRawBufferPointer) throws(CompressionError) in
            try compress(raw, appendingTo: &out)
        }
        return out
    }

    public func decompress(_ input: [UInt8], expectedSize: Int) throws(CompressionError) -> [UInt8] {
        try withRawBytes(input) { (raw: UnsafeRawBufferPointer) throws(CompressionError) in
            try decompress(raw, expectedSize: expectedSize)
        }
    }
}

/// The codec that copies.
public final class NoCompression: BlockCodec {
    public init() {}

    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(CompressionError) {
        output.append(contentsOf: input)
    }

    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(CompressionError) -> [UInt8] {
        guard input.count == expectedSize else {
            throw CompressionError(codec: "none", "block holds \(input.count) bytes, \(expectedSize) expected")
        }
        return Array(input)
    }
}

/// `Array.withUnsafeBytes` with the closure's typed error kept (the standard library's version
/// only rethrows `any Error`).
@inline(__always)
func withRawBytes<R, E: Error>(_ array: [UInt8], _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
    let result: Result<R, E> = array.withUnsafeBytes { raw in Result { () throws(E) -> R in try body(raw) } }
    return try result.get()
}
