import CZlib

/// gzip (RFC 1952) through zlib, as Parquet's GZIP codec means. Compression writes one member;
/// decompression accepts several back to back, as the format allows.
public final class GzipCodec: BlockCodec {
    public let level: Int32

    /// `level` 1…9 (6 is zlib's default).
    public init(level: Int = 6) {
        self.level = Int32(clamping: level)
    }

    /// windowBits 15 plus 16 selects the gzip wrapper (zlib.h).
    private static let gzipWindowBits: Int32 = 15 + 16

    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(CompressionError) {
        var stream = z_stream()
        var status = deflateInit2_(&stream, level, Z_DEFLATED, Self.gzipWindowBits, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw CompressionError(codec: "gzip", "deflateInit2 failed (\(status))") }
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(input.count)))
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: bound))
        output.withUnsafeMutableBytes { out in
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = uInt(input.count)
            stream.next_out = (out.baseAddress! + start).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(bound)
            status = deflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END else {
            output.removeSubrange(start...)
            throw CompressionError(codec: "gzip", "deflate failed (\(status))")
        }
        output.removeSubrange((start + Int(stream.total_out))...)
    }

    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(CompressionError) -> [UInt8] {
        var stream = z_stream()
        var status = inflateInit2_(&stream, Self.gzipWindowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw CompressionError(codec: "gzip", "inflateInit2 failed (\(status))") }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: expectedSize)
        var produced = 0
        var consumed = 0
        while consumed < input.count {
            out.withUnsafeMutableBytes { raw in
                stream.next_in = UnsafeMutablePointer(mutating: (input.baseAddress! + consumed).assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(input.count - consumed)
                stream.next_out = raw.baseAddress.map { ($0 + produced).assumingMemoryBound(to: Bytef.self) }
                stream.avail_out = uInt(expectedSize - produced)
                let inBefore = Int(stream.avail_in), outBefore = Int(stream.avail_out)
                status = inflate(&stream, Z_NO_FLUSH)
                consumed += inBefore - Int(stream.avail_in)
                produced += outBefore - Int(stream.avail_out)
            }
            switch status {
            case Z_STREAM_END:
                // Another member may follow.
                if consumed < input.count { inflateReset(&stream) }
            case Z_OK:
                if produced == expectedSize {
                    throw CompressionError(codec: "gzip", "block expands beyond the \(expectedSize) bytes its header gives")
                }
            case Z_BUF_ERROR:
                throw CompressionError(codec: "gzip", produced == expectedSize
                    ? "block expands beyond the \(expectedSize) bytes its header gives" : "block is truncated")
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                throw CompressionError(codec: "gzip", "corrupt block: \(reason)")
            }
        }
        guard status == Z_STREAM_END else { throw CompressionError(codec: "gzip", "block is truncated") }
        guard produced == expectedSize else {
            throw CompressionError(codec: "gzip", "block expands to \(produced) bytes, its header gives \(expectedSize)")
        }
        return out
    }
}
