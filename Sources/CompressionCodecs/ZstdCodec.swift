import CZstd

/// Zstandard (libzstd), one compression and one decompression context kept between calls.
public final class ZstdCodec: BlockCodec {
    public let level: Int32
    private var cctx: OpaquePointer?
    private var dctx: OpaquePointer?

    /// `level` 1…22; 3 is zstd's own default.
    public init(level: Int = 3) {
        self.level = Int32(clamping: level)
    }

    deinit {
        if let cctx { ZSTD_freeCCtx(cctx) }
        if let dctx { ZSTD_freeDCtx(dctx) }
    }

    public static var maximumLevel: Int { Int(ZSTD_maxCLevel()) }

    public func compress(_ input: UnsafeRawBufferPointer, appendingTo output: inout [UInt8]) throws(CompressionError) {
        if cctx == nil { cctx = ZSTD_createCCtx() }
        guard let cctx else { throw CompressionError(codec: "zstd", "out of memory") }
        let bound = ZSTD_compressBound(input.count)
        let start = output.count
        output.reserveCapacity(start + bound)
        var result = 0
        output.append(contentsOf: repeatElement(0, count: bound))
        output.withUnsafeMutableBytes { out in
            result = ZSTD_compressCCtx(cctx, out.baseAddress! + start, bound, input.baseAddress, input.count, level)
        }
        if ZSTD_isError(result) != 0 {
            output.removeSubrange(start...)
            throw CompressionError(codec: "zstd", String(cString: ZSTD_getErrorName(result)))
        }
        output.removeSubrange((start + result)...)
    }

    public func decompress(_ input: UnsafeRawBufferPointer, expectedSize: Int) throws(CompressionError) -> [UInt8] {
        if dctx == nil { dctx = ZSTD_createDCtx() }
        guard let dctx else { throw CompressionError(codec: "zstd", "out of memory") }
        ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)
        // Streaming into a buffer that grows towards expectedSize, so a block that lies about its
        // size cannot make us allocate what it only claims.
        var out = [UInt8](repeating: 0, count: min(expectedSize, max(input.count * 4, 1 << 16)))
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var produced = 0
        while true {
            let consumedBefore = inBuffer.pos, producedBefore = produced
            var status = 0
            out.withUnsafeMutableBytes { raw in
                var outBuffer = ZSTD_outBuffer(dst: raw.baseAddress, size: raw.count, pos: produced)
                status = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
                produced = outBuffer.pos
            }
            if ZSTD_isError(status) != 0 {
                throw CompressionError(codec: "zstd", "corrupt block: \(String(cString: ZSTD_getErrorName(status)))")
            }
            // 0: a frame is complete; another may follow.
            if status == 0, inBuffer.pos == inBuffer.size { break }
            if produced == out.count, out.count < expectedSize {
                out.append(contentsOf: repeatElement(0, count: min(expectedSize - out.count, out.count)))
            } else if inBuffer.pos == consumedBefore, produced == producedBefore {
                throw CompressionError(codec: "zstd", produced == expectedSize
                    ? "block expands beyond the \(expectedSize) bytes its header gives" : "block is truncated")
            }
        }
        guard produced == expectedSize else {
            throw CompressionError(codec: "zstd", "block expands to \(produced) bytes, its header gives \(expectedSize)")
        }
        return out
    }
}
