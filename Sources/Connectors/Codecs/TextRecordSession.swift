import ConnectorKit

/// Splits ASCII-compatible bytes into records. The CSV and line decoders implement it; the
/// `TextRecordSession` around them deals with byte-order marks and UTF-16.
protocol RecordScanner {
    /// Same contract as `DecoderSession.decode`, over bytes in `codec.encoding`. Record byte
    /// offsets are written as `context.offset + index`.
    mutating func scan(_ buf: UnsafeBufferPointer<UInt8>, codec: TextCodec, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64)
    var state: DecoderState { get set }
}

/// A decoder session for text: strips a byte-order mark at the start of a file and turns
/// UTF-16 into UTF-8 before scanning, mapping positions back to the original bytes.
struct TextRecordSession<Scanner: RecordScanner>: DecoderSession {
    var scanner: Scanner
    let encoding: TextEncoding
    private var cachedState: (DecoderState, String?)?

    init(scanner: Scanner, encoding: TextEncoding) {
        self.scanner = scanner
        self.encoding = encoding
        if encoding == .utf16be && scanner.state.bigEndian == nil { self.scanner.state.bigEndian = true }
        if encoding == .utf16le && scanner.state.bigEndian == nil { self.scanner.state.bigEndian = false }
    }

    var state: String? {
        mutating get {
            if let (s, text) = cachedState, s == scanner.state { return text }
            let text = scanner.state.encoded()
            cachedState = (scanner.state, text)
            return text
        }
    }

    mutating func decode(_ input: UnsafeRawBufferPointer, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64) {
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        var bom = 0
        if context.offset == 0 {
            switch encoding {
            case .utf8:
                if bytes.count < 3 && !context.atEnd && [0xEF, 0xBB, 0xBF].starts(with: bytes) { return (0, 0) }
                if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bom = 3 }
            case .utf16, .utf16le, .utf16be:
                if bytes.count < 2 && !context.atEnd { return (0, 0) }
                if bytes.starts(with: [0xFF, 0xFE]) { bom = 2; scanner.state.bigEndian = false }
                else if bytes.starts(with: [0xFE, 0xFF]) { bom = 2; scanner.state.bigEndian = true }
            default: break
            }
        }
        var ctx = context
        ctx.offset += Int64(bom)
        ctx.inputIndex = context.inputIndex.map { $0 + bom }
        let rest = UnsafeBufferPointer(rebasing: bytes[bom...])
        if encoding.isASCIICompatible {
            // Raw record bytes stay in the file's encoding; dead letters decode them with this name.
            output.rawEncoding = encoding.rawValue
            let r = scanner.scan(rest, codec: TextCodec(encoding: encoding), context: ctx, output: &output)
            return (r.consumed + bom, r.lines)
        }
        let r = decodeUTF16(rest, context: ctx, output: &output)
        return (r.consumed + bom, r.lines)
    }

    /// Transcodes complete UTF-16 code units to UTF-8, scans, and maps the result back.
    private mutating func decodeUTF16(_ raw: UnsafeBufferPointer<UInt8>, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64) {
        let big = scanner.state.bigEndian ?? false
        var utf8: [UInt8] = []
        utf8.reserveCapacity(raw.count / 2 + 16)
        // (utf8 index just after each LF, raw index just after it)
        var lineEnds: [(Int, Int)] = [(0, 0)]
        var i = 0
        func unit(_ k: Int) -> UInt16 {
            big ? UInt16(raw[k]) << 8 | UInt16(raw[k + 1]) : UInt16(raw[k + 1]) << 8 | UInt16(raw[k])
        }
        while i + 1 < raw.count {
            let u = unit(i)
            if u >= 0xD800 && u < 0xDC00 {
                if i + 3 >= raw.count {
                    if context.atEnd { utf8.append(0xFF); i += 2; continue }
                    break
                }
                let lo = unit(i + 2)
                if lo >= 0xDC00 && lo < 0xE000 {
                    TextCodec.appendScalar(0x10000 + (UInt32(u - 0xD800) << 10) + UInt32(lo - 0xDC00), to: &utf8)
                    i += 4
                } else {
                    utf8.append(0xFF) // invalid: makes the record fail UTF-8 validation
                    i += 2
                }
                continue
            }
            if u >= 0xDC00 && u < 0xE000 { utf8.append(0xFF); i += 2; continue }
            TextCodec.appendScalar(UInt32(u), to: &utf8)
            i += 2
            if u == 0x0A { lineEnds.append((utf8.count, i)) }
        }
        let transcodedRaw = i
        var inner = context
        inner.offset = 0
        inner.inputIndex = nil // the transcoded buffer is temporary: fields are copied
        let beforeRows = output.count
        let beforeLetters = output.deadLetters.count
        let (consumed, lines) = utf8.withUnsafeBufferPointer { buf in
            scanner.scan(buf, codec: TextCodec(encoding: .utf16), context: inner, output: &output)
        }
        func mapOffset(_ u: Int64) -> Int64 {
            // Records start after a line feed (or at 0): find that line feed.
            var lo = 0, hi = lineEnds.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if Int64(lineEnds[mid].0) <= u { lo = mid } else { hi = mid - 1 }
            }
            return context.offset + Int64(lineEnds[lo].1) + (u - Int64(lineEnds[lo].0)) * 2
        }
        output.mapByteOffsets(fromRecord: beforeRows, mapOffset)
        for k in beforeLetters..<output.deadLetters.count {
            output.deadLetters[k].origin.byteOffset = mapOffset(output.deadLetters[k].origin.byteOffset)
        }
        output.rawEncoding = "utf-8"
        if consumed == utf8.count { return (transcodedRaw, lines) }
        let mapped = mapOffset(Int64(consumed)) - context.offset
        return (Int(mapped), lines)
    }
}
