import Foundation

/// Writes dead letters as JSON lines: pipeline, file, line, byte offset, stage, reason and the raw
/// text. Its committed length rides in the checkpoint (`outputs["dead_letter"]`), so a replay after
/// a crash neither loses nor repeats an entry.
public final class DeadLetterWriter {
    public static let outputKey = "dead_letter"
    private let file: CommittedAppendFile
    private let pipeline: String
    public private(set) var written: Int64 = 0
    /// Where in `Checkpoint.outputs` this file's committed length is kept.
    public let key: String

    /// The key of a daemon's own dead-letter file when daemons of a cluster share the checkpoint:
    /// each daemon writes its own file, so each length is kept under its own key (a length measured
    /// on one machine's file must never cut another's).
    public static func outputKey(instance: String?) -> String { instance.map { "\(outputKey)@\($0)" } ?? outputKey }

    public init(path: String, pipeline: String, committedLength: Int64?, key: String = DeadLetterWriter.outputKey) throws {
        file = try CommittedAppendFile(path: path, committedLength: committedLength)
        self.pipeline = pipeline
        self.key = key
    }

    public var path: String { file.path }

    public func append(_ letters: [DeadLetter], at time: Double) throws {
        let stamp = CivilDate.formatTimestamp(micros: Int64(time * 1_000_000))
        for letter in letters {
            try file.append { out in
                out.append(UInt8(ascii: "{"))
                JSONWriter.appendKey("pipeline", to: &out); JSONWriter.appendString(pipeline, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("file", to: &out); JSONWriter.appendString(letter.origin.file, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("line", to: &out); JSONWriter.appendInt(letter.origin.line, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("byte_offset", to: &out); JSONWriter.appendInt(letter.origin.byteOffset, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("stage", to: &out); JSONWriter.appendString(letter.stage, to: &out)
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("reason", to: &out); JSONWriter.appendString(letter.reason, to: &out)
                out.append(UInt8(ascii: ","))
                let encoding = TextEncoding(name: letter.rawEncoding) ?? .utf8
                let text = encoding.decodeLossy(letter.raw)
                JSONWriter.appendKey("raw", to: &out); JSONWriter.appendString(text, to: &out)
                if text.unicodeScalars.contains("\u{FFFD}") || text.utf8.contains(0) {
                    // The raw bytes are not valid text: keep them exactly as well.
                    out.append(UInt8(ascii: ","))
                    JSONWriter.appendKey("raw_base64", to: &out)
                    JSONWriter.appendString(Data(letter.raw).base64EncodedString(), to: &out)
                }
                out.append(UInt8(ascii: ","))
                JSONWriter.appendKey("time", to: &out); JSONWriter.appendString(stamp, to: &out)
                out.append(contentsOf: [UInt8(ascii: "}"), 0x0A])
            }
            written += 1
        }
    }

    /// Flushes and fsyncs; returns the length to commit.
    public func sync() throws -> Int64 { try file.sync() }
}
