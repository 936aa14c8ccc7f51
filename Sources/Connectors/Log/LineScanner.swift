import ConnectorKit

/// Splits text into lines (LF or CRLF) and each line into fields by regex or key=value pairs.
struct LineScanner: RecordScanner {
    let config: LogConfiguration
    var state: DecoderState
    private let names: [String]
    private let regex: Regex<AnyRegexOutput>?
    private let kvSeparator: [UInt8]

    init(config: LogConfiguration, state: DecoderState) throws {
        self.config = config
        self.state = state
        switch config.mode {
        case .regex:
            names = LogConfiguration.groupNames(in: config.pattern ?? "")
            regex = try Regex(config.pattern ?? "")
        case .kv:
            names = config.fields ?? []
            regex = nil
        }
        kvSeparator = Array(config.kvSeparator.utf8)
    }

    mutating func scan(_ buf: UnsafeBufferPointer<UInt8>, codec: TextCodec, context: DecodeContext, output: inout DecodedRecords) -> (consumed: Int, lines: Int64) {
        if output.names != names && output.count == 0 { output.setNames(names) }
        output.beginInput(index: context.inputIndex, count: buf.count)
        var pos = 0
        var lines: Int64 = 0
        let n = buf.count
        if state.skippingOversized == true {
            guard let lf = CSVScanner.find(0x0A, buf, from: 0) else { return (n, 0) }
            state.skippingOversized = nil
            pos = lf + 1
            lines = 1
        }
        while (state.linesSkipped ?? 0) < config.skipLines {
            guard let lf = CSVScanner.find(0x0A, buf, from: pos) else { return (pos, lines) }
            pos = lf + 1
            lines += 1
            state.linesSkipped = (state.linesSkipped ?? 0) + 1
        }
        while pos < n && output.hasRoom(context.maxRows) {
            let start = pos
            let line = context.line + lines
            let origin = RecordOrigin(file: context.file, line: line, byteOffset: context.offset + Int64(start))
            var end: Int
            if let lf = CSVScanner.find(0x0A, buf, from: start) {
                end = lf
                pos = lf + 1
                lines += 1
            } else if context.atEnd {
                end = n
                pos = n
            } else {
                if n - start > config.maxRecordBytes {
                    output.deadLetters.append(DeadLetter(origin: origin, stage: "log",
                        reason: "line longer than max_record_bytes (\(config.maxRecordBytes)); skipped (raw text cut to that length)",
                        raw: Array(buf[start..<min(n, start + config.maxRecordBytes)]), rawEncoding: codec.encoding.rawValue))
                    state.skippingOversized = true
                    return (n, lines)
                }
                break
            }
            if end > start && buf[end - 1] == 0x0D { end -= 1 }
            if end - start > config.maxRecordBytes {
                output.deadLetters.append(DeadLetter(origin: origin, stage: "log",
                    reason: "line longer than max_record_bytes (\(config.maxRecordBytes)) (raw text cut to that length)",
                    raw: Array(buf[start..<min(end, start + config.maxRecordBytes)]), rawEncoding: codec.encoding.rawValue))
                continue
            }
            let record = UnsafeBufferPointer(rebasing: buf[start..<end])
            if record.isEmpty && config.skipBlank { continue }
            let (problem, nonASCII) = codec.check(record)
            if let problem {
                output.deadLetters.append(DeadLetter(origin: origin, stage: "log", reason: problem, raw: Array(record), rawEncoding: codec.encoding.rawValue))
                continue
            }
            // Fields as UTF-8 text.
            var text = StringColumn()
            codec.append(record, nonASCII: nonASCII, to: &text)
            let lineText = text[0]
            let values: [String]?
            switch config.mode {
            case .regex: values = matchRegex(lineText)
            case .kv: values = splitKeyValues(Array(lineText.utf8))
            }
            guard let values else {
                output.deadLetters.append(DeadLetter(origin: origin, stage: "log", reason: "line does not match the pattern",
                                                     raw: Array(record), rawEncoding: codec.encoding.rawValue))
                continue
            }
            for v in values { output.appendCopiedField(v) }
            output.endRecord(line: line, byteOffset: origin.byteOffset, raw: buf, from: start, to: end)
        }
        return (pos, lines)
    }

    private func matchRegex(_ line: String) -> [String]? {
        guard let regex, let m = try? regex.wholeMatch(in: line) ?? regex.firstMatch(in: line) else { return nil }
        return names.map { name in m.output[name]?.substring.map(String.init) ?? "" }
    }

    /// `key=value` pairs separated by whitespace; values may be double-quoted (with `\"` inside).
    private func splitKeyValues(_ b: [UInt8]) -> [String]? {
        var found: [String: String] = [:]
        var i = 0
        let n = b.count
        while i < n {
            while i < n && (b[i] == 0x20 || b[i] == 0x09) { i += 1 }
            let keyStart = i
            while i < n && !(b[i] == 0x20 || b[i] == 0x09) && !b[i...].starts(with: kvSeparator) { i += 1 }
            let key = String(decoding: b[keyStart..<i], as: UTF8.self)
            guard i < n, b[i...].starts(with: kvSeparator) else { continue }
            i += kvSeparator.count
            var value: [UInt8] = []
            if i < n && b[i] == UInt8(ascii: "\"") {
                i += 1
                while i < n && b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") && i + 1 < n { i += 1 }
                    value.append(b[i])
                    i += 1
                }
                i += 1
            } else {
                while i < n && !(b[i] == 0x20 || b[i] == 0x09) { value.append(b[i]); i += 1 }
            }
            if !key.isEmpty { found[key] = String(decoding: value, as: UTF8.self) }
        }
        if found.isEmpty { return nil }
        return names.map { found[$0] ?? "" }
    }
}
