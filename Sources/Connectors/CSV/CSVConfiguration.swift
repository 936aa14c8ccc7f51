import ConnectorKit

/// `type = "csv"` (first `[[transform]]`): RFC 4180 CSV in any one-byte delimiter and the usual encodings.
public struct CSVConfiguration: PluginConfiguration {
    /// One byte: `","`, `";"`, `"\t"` (or `"tab"`), `"|"`.
    public var delimiter: UInt8 = UInt8(ascii: ",")
    public var quote: UInt8 = UInt8(ascii: "\"")
    /// The first record names the columns.
    public var header: Bool = true
    /// Column names; required without a header, and override the header's names when given with one.
    public var columns: [String]?
    public var encoding: TextEncoding = .utf8
    /// Physical lines to skip at the start of each file (machine preambles) before the header.
    public var skipLines: Int = 0
    /// A record longer than this goes to the dead-letter output and the decoder skips to the next line.
    public var maxRecordBytes: Int = 1 << 20
    /// Trim spaces and tabs around unquoted fields.
    public var trim: Bool = false

    enum CodingKeys: String, CodingKey {
        case delimiter, quote, header, columns, encoding, trim
        case skipLines = "skip_lines"
        case maxRecordBytes = "max_record_bytes"
    }

    public init() {}

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let d = try c.decodeIfPresent(String.self, forKey: .delimiter) {
            guard let b = CSVConfiguration.singleByte(d) else { throw ConfigIssue(key: "delimiter", message: "expected one ASCII character such as \",\", \";\", \"\\t\" or \"|\", found \"\(d)\"") }
            delimiter = b
        }
        if let q = try c.decodeIfPresent(String.self, forKey: .quote) {
            guard let b = CSVConfiguration.singleByte(q) else { throw ConfigIssue(key: "quote", message: "expected one ASCII character, found \"\(q)\"") }
            quote = b
        }
        header = try c.decodeIfPresent(Bool.self, forKey: .header) ?? header
        columns = try c.decodeIfPresent([String].self, forKey: .columns)
        if let e = try c.decodeIfPresent(String.self, forKey: .encoding) {
            guard let enc = TextEncoding(name: e) else {
                throw ConfigIssue(key: "encoding", message: "expected one of \(TextEncoding.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), found \"\(e)\"")
            }
            encoding = enc
        }
        skipLines = try c.decodeIfPresent(Int.self, forKey: .skipLines) ?? skipLines
        maxRecordBytes = try c.decodeIfPresent(Int.self, forKey: .maxRecordBytes) ?? maxRecordBytes
        trim = try c.decodeIfPresent(Bool.self, forKey: .trim) ?? trim
    }

    static func singleByte(_ s: String) -> UInt8? {
        switch s {
        case "\t", "\\t", "tab": return 0x09
        default:
            let u = Array(s.utf8)
            return u.count == 1 && u[0] < 0x80 && u[0] != 0x0A && u[0] != 0x0D ? u[0] : nil
        }
    }

    public func validate() throws {
        if !header && (columns ?? []).isEmpty { throw ConfigIssue(key: "columns", message: "is required when header = false") }
        if delimiter == quote { throw ConfigIssue(key: "quote", message: "must differ from the delimiter") }
        if skipLines < 0 { throw ConfigIssue(key: "skip_lines", message: "must not be negative") }
        if maxRecordBytes < 1024 { throw ConfigIssue(key: "max_record_bytes", message: "must be at least 1024") }
        if maxRecordBytes > 64 << 20 { throw ConfigIssue(key: "max_record_bytes", message: "must be at most 67108864 (64 MiB)") }
        if let cols = columns, Set(cols).count != cols.count { throw ConfigIssue(key: "columns", message: "names a column twice") }
    }

    public static let sample = """
        type = "csv"
        delimiter = ";"
        encoding = "windows-1252"
        header = true
        """
}

/// The `csv` decoder plugin.
public struct CSVDecoder: RecordDecoder {
    public let configuration: CSVConfiguration

    public init(_ configuration: CSVConfiguration) { self.configuration = configuration }

    public func makeSession(file: String, state: String?) throws -> any DecoderSession {
        var s = DecoderState.decode(state)
        if !configuration.header, s.header == nil { s.header = configuration.columns }
        return TextRecordSession(scanner: CSVScanner(config: configuration, state: s), encoding: configuration.encoding)
    }
}
