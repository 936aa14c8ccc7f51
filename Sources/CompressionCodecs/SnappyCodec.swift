import CSnappy

/// Snappy (libsnappy's C interface). Stateless; a class only to fit `BlockCodec`.
public final class SnappyCodec: BlockCodec {
    public init() {}

    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(CompressionError) {
        let bound = snappy_max_compressed_length(input.count)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        var length = bound
        let source = input.baseAddress?.assumingMemoryBound(to: CChar.self)
        let status = output.withUnsafeMutableBytes { out in
            snappy_compress(source, input.count, (out.baseAddress! + start).assumingMemoryBound(to: CChar.self), &length)
        }
        guard status == SNAPPY_OK else {
            output.removeSubrange(start...)
            throw CompressionError(codec: "snappy", "compression failed (status \(status.rawValue))")
        }
        output.removeSubrange((start + length)...)
    }

    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(CompressionError) -> [UInt8] {
        var length = 0
        let src = input.baseAddress?.assumingMemoryBound(to: CChar.self)
        guard let src, snappy_uncompressed_length(src, input.count, &length) == SNAPPY_OK else {
            throw CompressionError(codec: "snappy", "corrupt block: no valid length")
        }
        guard length == expectedSize else {
            throw CompressionError(codec: "snappy", "block expands to \(length) bytes, its header gives \(expectedSize)")
        }
        // Validation reads the block without writing, so a corrupt one is refused before we allocate.
        guard snappy_validate_compressed_buffer(src, input.count) == SNAPPY_OK else {
            throw CompressionError(codec: "snappy", "corrupt block")
        }
        var out = [UInt8](repeating: 0, count: length)
        var produced = length
        let status = out.withUnsafeMutableBytes { raw in
            snappy_uncompress(src, input.count, raw.baseAddress!.assumingMemoryBound(to: CChar.self), &produced)
        }
        guard status == SNAPPY_OK, produced == expectedSize else { throw CompressionError(codec: "snappy", "corrupt block") }
        return out
    }
}
