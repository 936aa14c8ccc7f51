import Foundation
import ConnectorKit

/// Splits CSV bytes into records (RFC 4180: quoted fields may hold the delimiter, doubled quotes,
/// CR and LF; records end with LF or CRLF). Works on raw bytes of an ASCII-compatible encoding,
/// with no allocation per field.
struct CSVScanner: RecordScanner {
    let config: CSVConfiguration
    var state: DecoderState
    /// Field ranges of the record being scanned: `start, end` pairs, indices into the input.
    private let fields = PositionBuffer()
    /// Fields (by number) whose doubled quotes need undoing.
    private var doubledFields: [Int] = []
    private var unescaped: [UInt8] = []
    private var transcoded: [UInt8] = []
    /// Where the unquoted fields of the buffer being scanned end, and where quotes are.
    private var window: CSVWindow

    init(config: CSVConfiguration, state: DecoderState) {
        self.config = config
        self.state = state
        window = CSVWindow(delimiter: config.delimiter, quote: config.quote)
    }

    private enum Scan {
        case record(end: Int, next: Int, lines: Int64)
        case incomplete
        /// A static reason keeps the enum trivial: a `String` made every record's result pay an
        /// outlined destroy.
        case malformed(end: Int, next: Int, lines: Int64, reason: StaticString)
    }

    mutating func scan(_ buf: UnsafeBufferPointer<UInt8>, codec: TextCodec, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64) {
        var pos = 0
        var lines: Int64 = 0
        let n = buf.count
        if state.header != nil && output.names != state.header! && output.count == 0 { output.setNames(state.header!) }
        output.beginInput(index: context.inputIndex, count: n)
        window = CSVWindow(delimiter: config.delimiter, quote: config.quote)

        // Leftover of an oversized record: skip to the next line feed.
        if state.skippingOversized == true {
            guard let lf = Self.find(0x0A, buf, from: 0) else {
                return (n, 0)
            }
            state.skippingOversized = nil
            pos = lf + 1
            lines = 1
        }
        // Preamble lines at the start of the file.
        while (state.linesSkipped ?? 0) < config.skipLines {
            guard let lf = Self.find(0x0A, buf, from: pos) else { return (pos, lines) }
            pos = lf + 1
            lines += 1
            state.linesSkipped = (state.linesSkipped ?? 0) + 1
        }

        // Bytes [pos, cleanEnd) are known valid (no per-record check); records in
        // [cleanEnd, checkedEnd) are checked one by one. Both move ahead a block at a time.
        var cleanEnd = pos, checkedEnd = pos
        // Plain records in a validated block go straight into the batch (`appendPlainRecords`).
        let fastPath = !config.trim && state.header != nil && !output.names.isEmpty
        while pos < n && output.hasRoom(context.maxRows) {
            if fastPath {
                if pos >= cleanEnd && pos >= checkedEnd {
                    cleanEnd = codec.cleanLinesEnd(buf, from: pos, limit: min(n, pos + Self.checkBlock))
                    if cleanEnd == pos { checkedEnd = min(n, pos + Self.checkBlock) }
                }
                if pos < cleanEnd {
                    appendPlainRecords(buf, pos: &pos, lines: &lines, upTo: cleanEnd, context: context, output: &output)
                    if pos >= n || !output.hasRoom(context.maxRows) { break }
                }
            }
            let start = pos
            let scanned = scanRecord(buf, from: start, atEnd: context.atEnd)
            switch scanned {
            case .incomplete:
                if n - start > config.maxRecordBytes {
                    let line = context.line + lines
                    output.deadLetters.append(DeadLetter(
                        origin: RecordOrigin(file: context.file, line: line, byteOffset: context.offset + Int64(start)),
                        stage: "csv", reason: "record longer than max_record_bytes (\(config.maxRecordBytes)); skipped to the next line (raw text cut to that length)",
                        raw: Array(buf[start..<min(n, start + config.maxRecordBytes)]), rawEncoding: codec.encoding.rawValue))
                    if let lf = Self.find(0x0A, buf, from: start + config.maxRecordBytes) {
                        pos = lf + 1
                        lines += Self.count(0x0A, buf, start, pos)
                    } else {
                        lines += Self.count(0x0A, buf, start, n)
                        pos = n
                        state.skippingOversized = true
                    }
                    continue
                }
                return (pos, lines)
            case let .malformed(end, next, recLines, reason):
                output.deadLetters.append(DeadLetter(
                    origin: RecordOrigin(file: context.file, line: context.line + lines, byteOffset: context.offset + Int64(start)),
                    stage: "csv", reason: reason.description, raw: Array(buf[start..<end]), rawEncoding: codec.encoding.rawValue))
                pos = next
                lines += recLines
            case let .record(end, next, recLines):
                let line = context.line + lines
                pos = next
                lines += recLines
                // A blank line is no record.
                if fields.count == 2 && fields[0] == fields[1] && !(start < end && buf[start] == config.quote) { continue }
                let record = UnsafeBufferPointer(rebasing: buf[start..<end])
                if end >= cleanEnd && end >= checkedEnd {
                    cleanEnd = codec.cleanLinesEnd(buf, from: start, limit: min(n, start + Self.checkBlock))
                    if cleanEnd == start { checkedEnd = min(n, start + Self.checkBlock) }
                }
                let (problem, nonASCII) = end < cleanEnd ? (nil, false) : codec.check(record)
                if let problem {
                    output.deadLetters.append(DeadLetter(
                        origin: RecordOrigin(file: context.file, line: line, byteOffset: context.offset + Int64(start)),
                        stage: "csv", reason: problem, raw: Array(record), rawEncoding: codec.encoding.rawValue))
                    continue
                }
                if state.header == nil {
                    takeHeader(buf, codec: codec, nonASCII: nonASCII)
                    output.setNames(state.header!)
                    continue
                }
                if fields.count / 2 != output.names.count {
                    output.deadLetters.append(DeadLetter(
                        origin: RecordOrigin(file: context.file, line: line, byteOffset: context.offset + Int64(start)),
                        stage: "csv", reason: "expected \(output.names.count) fields, found \(fields.count / 2)",
                        raw: Array(record), rawEncoding: codec.encoding.rawValue))
                    continue
                }
                let transcode = codec.needsTranscoding(nonASCII: nonASCII)
                if doubledFields.isEmpty && !transcode {
                    output.appendRecord(fields: fields.buffer, line: line, byteOffset: context.offset + Int64(start), raw: buf, from: start, to: end)
                } else {
                    appendChangedFields(buf, codec: codec, transcode: transcode, output: &output)
                    output.endRecord(line: line, byteOffset: context.offset + Int64(start), raw: buf, from: start, to: end)
                }
            }
        }
        return (pos, lines)
    }

    /// How far ahead the bytes are validated at once: a block, not per record (one pass of a
    /// vector loop instead of two short scans per record).
    static let checkBlock = 64 * 1024

    /// The slow path: some field has doubled quotes, or the record needs transcoding to UTF-8.
    private mutating func appendChangedFields(_ buf: UnsafeBufferPointer<UInt8>, codec: TextCodec, transcode: Bool, output: inout DecodedRecords) {
        for k in 0..<(fields.count / 2) {
            let s = Int(fields[2 * k]), e = Int(fields[2 * k + 1])
            let doubled = doubledFields.contains(k)
            if doubled { undouble(buf, s, e) }
            if transcode {
                transcoded.removeAll(keepingCapacity: true)
                if doubled {
                    unescaped.withUnsafeBufferPointer { codec.appendUTF8($0, to: &transcoded) }
                } else {
                    codec.appendUTF8(UnsafeBufferPointer(rebasing: buf[s..<e]), to: &transcoded)
                }
                transcoded.withUnsafeBufferPointer { output.appendCopiedField($0) }
            } else if doubled {
                unescaped.withUnsafeBufferPointer { output.appendCopiedField($0) }
            } else {
                output.appendField(buf, from: s, to: e)
            }
        }
    }

    private mutating func takeHeader(_ buf: UnsafeBufferPointer<UInt8>, codec: TextCodec, nonASCII: Bool) {
        var names: [String] = []
        for k in 0..<(fields.count / 2) {
            let s = Int(fields[2 * k]), e = Int(fields[2 * k + 1])
            var col = StringColumn()
            if doubledFields.contains(k) {
                undouble(buf, s, e)
                unescaped.withUnsafeBufferPointer { codec.append($0, nonASCII: nonASCII, to: &col) }
            } else {
                codec.append(UnsafeBufferPointer(rebasing: buf[s..<e]), nonASCII: nonASCII, to: &col)
            }
            names.append(col[0].trimmingCharacters(in: .whitespaces))
        }
        if let given = config.columns { names = given } else {
            var seen: [String: Int] = [:]
            for i in names.indices {
                if names[i].isEmpty { names[i] = "column_\(i + 1)" }
                if let c = seen[names[i]] { seen[names[i]] = c + 1; names[i] += "_\(c + 1)" } else { seen[names[i]] = 1 }
            }
        }
        state.header = names
    }

    private mutating func undouble(_ buf: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) {
        unescaped.removeAll(keepingCapacity: true)
        var i = s
        while i < e {
            unescaped.append(buf[i])
            if buf[i] == config.quote && i + 1 < e && buf[i + 1] == config.quote { i += 2 } else { i += 1 }
        }
    }

    /// Scans one record starting at `start`, filling `fields`.
    @inline(__always)
    private mutating func scanRecord(_ buf: UnsafeBufferPointer<UInt8>, from start: Int, atEnd: Bool) -> Scan {
        fields.removeAll()
        if !doubledFields.isEmpty { doubledFields.removeAll(keepingCapacity: true) }
        if !config.trim {
            if let plain = scanPlainRecord(buf, from: start) { return plain }
            fields.removeAll()
        }
        let n = buf.count
        let delim = config.delimiter, quote = config.quote
        var i = start
        var lines: Int64 = 0
        while true {
            if i < n && buf[i] == quote {
                // Quoted field.
                let contentStart = i + 1
                var j = contentStart
                var doubled = false
                var closed = false
                while j < n {
                    let c = buf[j]
                    if c == quote {
                        if j + 1 < n && buf[j + 1] == quote { doubled = true; j += 2; continue }
                        if j + 1 == n && !atEnd { return .incomplete }
                        closed = true
                        break
                    }
                    if c == 0x0A { lines += 1 }
                    j += 1
                }
                if !closed {
                    if !atEnd { return .incomplete }
                    return .malformed(end: n, next: n, lines: lines, reason: "unterminated quoted field at end of file")
                }
                if doubled { doubledFields.append(fields.count / 2) }
                fields.append(Int32(truncatingIfNeeded: contentStart), Int32(truncatingIfNeeded: j))
                i = j + 1
                if i == n {
                    if !atEnd { return .incomplete }
                    return .record(end: n, next: n, lines: lines)
                }
                let c = buf[i]
                if c == delim { i += 1; continue }
                if c == 0x0A { return .record(end: i, next: i + 1, lines: lines + 1) }
                if c == 0x0D && i + 1 < n && buf[i + 1] == 0x0A { return .record(end: i, next: i + 2, lines: lines + 1) }
                if c == 0x0D && i + 1 == n && !atEnd { return .incomplete }
                // Text after a closing quote: malformed; resynchronise at the next line feed.
                guard let lf = Self.find(0x0A, buf, from: i) else {
                    if !atEnd { return .incomplete }
                    return .malformed(end: n, next: n, lines: lines, reason: "unexpected text after a closing quote")
                }
                let end = lf > start && buf[lf - 1] == 0x0D ? lf - 1 : lf
                return .malformed(end: end, next: lf + 1, lines: lines + 1, reason: "unexpected text after a closing quote")
            }
            // Unquoted field: up to the delimiter or the line feed.
            let fieldStart = i
            i = window.firstEnd(in: buf, from: i)
            if i == n {
                if !atEnd { return .incomplete }
                var e = n
                if e > fieldStart && buf[e - 1] == 0x0D { e -= 1 }
                appendUnquoted(buf, fieldStart, e)
                return .record(end: e, next: n, lines: lines)
            }
            if buf[i] == delim {
                appendUnquoted(buf, fieldStart, i)
                i += 1
                continue
            }
            var e = i
            if e > fieldStart && buf[e - 1] == 0x0D { e -= 1 }
            appendUnquoted(buf, fieldStart, e)
            return .record(end: e, next: i + 1, lines: lines + 1)
        }
    }

    /// The records from `pos` whose line feeds lie before `end` (a block `cleanLinesEnd` found
    /// valid: no per-record check, no transcoding) written straight into `output`'s batch, as
    /// long as they are plain (`scanPlainFields`) and have one field per column. Stops before
    /// the first other record (the general path takes it: a blank line, a quoted field, a wrong
    /// field count) and at `maxRows`.
    private mutating func appendPlainRecords(_ buf: UnsafeBufferPointer<UInt8>, pos: inout Int, lines: inout Int64, upTo end: Int,
                                             context: DecodeContext, output: inout DecodedRecords) {
        // Everything the loop changes is a local here, passed down by address: captured by the
        // closure from `self` or the parameters, each access paid a dynamic exclusivity check.
        var window = self.window, at = pos, line = lines
        let delimiter = config.delimiter
        output.withInputRecordWriter { writer in
            Self.appendPlainRecords(buf, at: &at, lines: &line, upTo: end, window: &window, delimiter: delimiter, context: context, writer: &writer)
        }
        self.window = window
        pos = at
        lines = line
    }

    private static func appendPlainRecords(_ buf: UnsafeBufferPointer<UInt8>, at pos: inout Int, lines: inout Int64, upTo end: Int,
                                           window: inout CSVWindow, delimiter: UInt8, context: DecodeContext, writer: inout InputRecordWriter) {
        let positions = writer.fieldsPerRecord
        while pos < end && writer.count < context.maxRows {
            let slots = writer.slots()
            guard let (written, recordEnd, next) = scanPlainFields(buf, from: pos, into: slots, capacity: positions, shift: writer.shift,
                                                                   window: &window, delimiter: delimiter),
                  written == positions, next <= end,
                  positions > 2 || slots[0] != slots[1] // one empty field: a blank line, no record
            else { return }
            writer.commit(line: context.line &+ lines, byteOffset: context.offset &+ Int64(pos), from: pos, to: recordEnd)
            pos = next
            lines &+= 1
        }
    }

    /// The common record: no field starts with a quote, and the record lies in windows that fit
    /// in the buffer (near its end records go the general way). Its fields come from the
    /// window's bits, a few operations each.
    /// nil hands the record to the general path, which starts it again (with no fields).
    @inline(__always)
    private mutating func scanPlainRecord(_ buf: UnsafeBufferPointer<UInt8>, from start: Int) -> Scan? {
        // A record with more fields than the buffer holds goes the general way, which grows it.
        guard let (written, end, next) = Self.scanPlainFields(buf, from: start, into: fields.base, capacity: fields.capacity, shift: 0,
                                                              window: &window, delimiter: config.delimiter) else { return nil }
        fields.setCount(written)
        return .record(end: end, next: next, lines: 1)
    }

    /// Writes a plain record's fields at `slots` as `start, end` pairs plus `shift`, at most
    /// `capacity` values; returns how many, and where the record ends (before any CR) and the
    /// next begins. nil: not a plain record, or more fields than fit. The window is kept in a
    /// local for the record (in registers, not reloaded from memory for every field).
    @inline(__always)
    private static func scanPlainFields(_ buf: UnsafeBufferPointer<UInt8>, from start: Int, into slots: UnsafeMutablePointer<Int32>,
                                        capacity: Int, shift: Int32, window: inout CSVWindow, delimiter delim: UInt8) -> (written: Int, end: Int, next: Int)? {
        let n = buf.count
        let bytes = buf.baseAddress!
        var w = window
        defer { window = w }
        var i = start
        var k = 0
        while true {
            var offset = i &- w.base
            if UInt(bitPattern: offset) >= 64 {
                guard i &+ 64 <= n else { return nil }
                w.load(buf, at: i)
                offset = 0
            }
            if (w.quotes >> UInt64(offset)) & 1 != 0 { return nil }
            var later = w.ends & (~0 << UInt64(offset))
            while later == 0 {
                // The field goes on past this window.
                let next = w.base &+ 64
                guard next &+ 64 <= n else { return nil }
                w.load(buf, at: next)
                later = w.ends
            }
            // A set bit is a delimiter or a line feed inside the loaded window, so inside `buf`.
            let e = w.base &+ later.trailingZeroBitCount
            guard k &+ 2 <= capacity else { return nil }
            slots[k] = Int32(truncatingIfNeeded: i) &+ shift
            if bytes[e] == delim {
                slots[k &+ 1] = Int32(truncatingIfNeeded: e) &+ shift
                k &+= 2
                i = e &+ 1
                continue
            }
            let end = e > i && bytes[e &- 1] == 0x0D ? e &- 1 : e
            slots[k &+ 1] = Int32(truncatingIfNeeded: end) &+ shift
            return (k &+ 2, end, e &+ 1)
        }
    }

    @inline(__always)
    private mutating func appendUnquoted(_ buf: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) {
        guard config.trim else {
            fields.append(Int32(truncatingIfNeeded: s), Int32(truncatingIfNeeded: e))
            return
        }
        var a = s, b = e
        while a < b && (buf[a] == 0x20 || buf[a] == 0x09) { a += 1 }
        while b > a && (buf[b - 1] == 0x20 || buf[b - 1] == 0x09) { b -= 1 }
        fields.append(Int32(truncatingIfNeeded: a), Int32(truncatingIfNeeded: b))
    }

    static func find(_ byte: UInt8, _ buf: UnsafeBufferPointer<UInt8>, from: Int) -> Int? {
        guard from < buf.count, let base = buf.baseAddress else { return nil }
        guard let p = memchr(base + from, Int32(byte), buf.count - from) else { return nil }
        return UnsafePointer<UInt8>(p.assumingMemoryBound(to: UInt8.self)) - base
    }

    static func count(_ byte: UInt8, _ buf: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Int64 {
        var k: Int64 = 0
        for i in s..<e where buf[i] == byte { k += 1 }
        return k
    }
}
