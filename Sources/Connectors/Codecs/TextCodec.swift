import ConnectorKit
import CByteClasses
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Validates record bytes in an ASCII-compatible encoding and converts field bytes to UTF-8.
/// Shared by the CSV and log decoders.
struct TextCodec: Sendable {
    /// The encoding of the bytes the scanner sees (UTF-16 input is transcoded to UTF-8 first).
    let encoding: TextEncoding

    /// Returns why the record's bytes are invalid (or nil), and whether any byte is non-ASCII.
    @inline(__always)
    func check(_ bytes: UnsafeBufferPointer<UInt8>) -> (problem: String?, nonASCII: Bool) {
        let (nul, high) = ByteSearch.nulAndHighBytes(bytes)
        if nul { return ("NUL byte in record (binary data?)", high) }
        guard high else { return (nil, false) }
        switch encoding {
        case .utf8, .utf16, .utf16le, .utf16be:
            if let bad = TextCodec.firstInvalidUTF8(bytes) {
                return ("invalid \(encoding == .utf8 ? "UTF-8" : "UTF-16") at byte \(bad) of the record", true)
            }
        case .windows1252:
            for (i, b) in bytes.enumerated() where b >= 0x80 && b <= 0x9F && TextEncoding.windows1252High[Int(b - 0x80)] == 0 {
                return ("byte 0x\(String(b, radix: 16, uppercase: true)) at byte \(i) of the record is not defined in windows-1252", true)
            }
        case .iso88591:
            break
        }
        return (nil, true)
    }

    /// Where a run of whole lines from `start` that needs no per-record `check` ends: the end of
    /// the last line feed before `limit`, when the bytes up to it hold no NUL and are valid text
    /// (ASCII; or UTF-8 when the input is UTF-8, the records then need no transcoding either).
    /// `start` when they do not: their records are checked one by one, and a bad one is named.
    func cleanLinesEnd(_ buf: UnsafeBufferPointer<UInt8>, from start: Int, limit: Int) -> Int {
        guard limit > start, let base = buf.baseAddress else { return start }
        // The last line feed before `limit` (memrchr is not on every libc).
        var last = limit - 1
        while last >= start && base[last] != 0x0A { last -= 1 }
        guard last >= start else { return start }
        let end = last + 1
        let lines = UnsafeBufferPointer(start: base + start, count: end - start)
        switch encoding {
        case .utf8, .utf16, .utf16le, .utf16be:
            // Mostly ASCII: one pass; from the first other byte (a character's start, as every
            // byte before it is ASCII) the NUL search and the UTF-8 check.
            let ascii = ByteSearch.plainASCIIPrefix(lines)
            if ascii == lines.count { return end }
            let rest = UnsafeBufferPointer(rebasing: lines[ascii...])
            return memchr(rest.baseAddress!, 0, rest.count) == nil && TextCodec.firstInvalidUTF8(rest) == nil ? end : start
        case .windows1252, .iso88591:
            return ByteSearch.plainASCIIPrefix(lines) == lines.count ? end : start
        }
    }

    /// Appends `bytes` to `column` as UTF-8.
    @inline(__always)
    func append(_ bytes: UnsafeBufferPointer<UInt8>, nonASCII: Bool, to column: inout StringColumn) {
        if !nonASCII || encoding != .windows1252 && encoding != .iso88591 {
            column.append(UnsafeRawBufferPointer(bytes))
            return
        }
        var tmp: [UInt8] = []
        tmp.reserveCapacity(bytes.count * 2)
        for b in bytes { TextCodec.appendSingleByte(b, encoding: encoding, to: &tmp) }
        tmp.withUnsafeBytes { column.append($0) }
    }

    /// Whether a record's bytes differ from their UTF-8 form.
    @inline(__always)
    func needsTranscoding(nonASCII: Bool) -> Bool {
        nonASCII && (encoding == .windows1252 || encoding == .iso88591)
    }

    /// Appends `bytes` (in this encoding) to `out` as UTF-8.
    func appendUTF8(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        if encoding != .windows1252 && encoding != .iso88591 { out.append(contentsOf: bytes); return }
        for b in bytes { TextCodec.appendSingleByte(b, encoding: encoding, to: &out) }
    }

    @inline(__always)
    static func appendSingleByte(_ b: UInt8, encoding: TextEncoding, to out: inout [UInt8]) {
        if b < 0x80 { out.append(b); return }
        var scalar = UInt32(b)
        if encoding == .windows1252 && b <= 0x9F {
            let v = TextEncoding.windows1252High[Int(b - 0x80)]
            scalar = v == 0 ? 0xFFFD : v
        }
        appendScalar(scalar, to: &out)
    }

    @inline(__always)
    static func appendScalar(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// Index of the first byte that breaks UTF-8, or nil when valid.
    static func firstInvalidUTF8(_ b: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        let n = b.count
        while i < n {
            let c = b[i]
            if c < 0x80 {
                // To the next non-ASCII byte 64 bytes at a time (SSE2), near the end 32, else up
                // to eight at a time.
                if i &+ 64 <= n {
                    let high = sluice_high_bytes64(b.baseAddress! + i)
                    i &+= high == 0 ? 64 : high.trailingZeroBitCount
                    continue
                }
                if i + 32 <= n
                    && (ByteSearch.load(b, i) | ByteSearch.load(b, i + 8) | ByteSearch.load(b, i + 16) | ByteSearch.load(b, i + 24)) & ByteSearch.highBits == 0 {
                    i += 32
                    continue
                }
                if i + 8 <= n {
                    // To the word's first non-ASCII byte (at least one on, as this one is ASCII).
                    let high = ByteSearch.load(b, i) & ByteSearch.highBits
                    i += high == 0 ? 8 : high.trailingZeroBitCount >> 3
                } else {
                    i += 1
                }
                continue
            }
            var need = 0
            var min: UInt32 = 0
            var v: UInt32 = 0
            if c & 0xE0 == 0xC0 { need = 1; v = UInt32(c & 0x1F); min = 0x80 }
            else if c & 0xF0 == 0xE0 { need = 2; v = UInt32(c & 0x0F); min = 0x800 }
            else if c & 0xF8 == 0xF0 { need = 3; v = UInt32(c & 0x07); min = 0x10000 }
            else { return i }
            if i + need >= n + 0 && i + need > n - 1 + 1 { return i }
            for k in 1...need {
                guard i + k < n, b[i + k] & 0xC0 == 0x80 else { return i }
                v = v << 6 | UInt32(b[i + k] & 0x3F)
            }
            if v < min || v > 0x10FFFF || (0xD800...0xDFFF).contains(v) { return i }
            i += need + 1
        }
        return nil
    }
}

/// Per-file decoder state kept in checkpoints.
struct DecoderState: Codable, Equatable {
    var header: [String]?
    var bigEndian: Bool?
    var linesSkipped: Int?
    var skippingOversized: Bool?

    func encoded() -> String? {
        guard let data = try? JSONEncoderShared.encode(self) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ s: String?) -> DecoderState {
        guard let s, let d = try? JSONDecoderShared.decode(DecoderState.self, from: Array(s.utf8)) else { return DecoderState() }
        return d
    }
}
