import CompressionCodecs
import ConnectorKit

/// How a file is written. The defaults suit archives: zstd level 3, row groups of about 128 MiB
/// (uncompressed) or 1,048,576 rows, pages of about 1 MiB, dictionaries where they pay.
public struct ParquetWriterOptions: Sendable {
    public var codec: CompressionCodec = .zstd
    /// The codec's level (zstd 1…22, gzip 1…9); `nil` for its default (zstd 3, gzip 6).
    public var compressionLevel: Int?
    public var rowGroupRows: Int = 1_048_576
    public var rowGroupBytes: Int = 128 << 20
    public var pageBytes: Int = 1 << 20
    /// Dictionary-encode a column chunk when that is smaller than PLAIN and the dictionary stays
    /// under `dictionaryPageBytes`.
    public var dictionary: Bool = true
    public var dictionaryPageBytes: Int = 1 << 20
    /// Encode a full row group on a thread of its own while the next fills (see ParquetFileWriter).
    public var backgroundEncoding: Bool = true
    /// Threads that encode one row group's column chunks; `nil`: two on a machine with two or
    /// more cores, else one.
    public var encodingThreads: Int?
    /// `app version X`, the form readers parse to decide which statistics to trust.
    public var createdBy: String = "sluice version \(SluiceVersion.current)"

    public init() {}

    /// The codecs Sluice writes.
    public static let writableCodecs: [CompressionCodec] = [.uncompressed, .snappy, .gzip, .zstd]

    public func validate() throws(ParquetError) {
        guard Self.writableCodecs.contains(codec) else { throw .invalidInput("codec \(codec) cannot be written (use zstd, snappy, gzip or none)") }
        if let level = compressionLevel {
            switch codec {
            case .zstd: guard (1...ZstdCodec.maximumLevel).contains(level) else { throw .invalidInput("zstd level must be 1…\(ZstdCodec.maximumLevel)") }
            case .gzip: guard (1...9).contains(level) else { throw .invalidInput("gzip level must be 1…9") }
            default: throw .invalidInput("\(codec) has no compression level")
            }
        }
        guard rowGroupRows >= 1 else { throw .invalidInput("row group rows must be at least 1") }
        guard rowGroupBytes >= 1 else { throw .invalidInput("row group bytes must be at least 1") }
        guard pageBytes >= 1 else { throw .invalidInput("page bytes must be at least 1") }
    }

    func makeCodec() -> any BlockCodec {
        Self.codec(codec, level: compressionLevel)
    }

    static func codec(_ codec: CompressionCodec, level: Int? = nil) -> any BlockCodec {
        switch codec {
        case .zstd: ZstdCodec(level: level ?? 3)
        case .snappy: SnappyCodec()
        case .gzip: GzipCodec(level: level ?? 6)
        default: NoCompression()
        }
    }
}
