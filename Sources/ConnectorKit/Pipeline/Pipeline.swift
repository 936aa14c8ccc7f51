import Foundation
import Logging

/// A pipeline assembled from its plugins: source → decoder → transforms → sink.
public struct Pipeline: Sendable {
    public var name: String
    public var source: any Source
    /// Required when the source emits bytes.
    public var decoder: (any RecordDecoder)?
    public var decoderName: String
    public var transforms: [(name: String, transform: any Transform)]
    public var sink: any Sink
    public var deadLetterPath: String
    /// Rows per batch handed from stage to stage.
    public var batchRows: Int
    /// Commit at least every this many rows…
    public var commitRows: Int
    /// …and at least every this many seconds.
    public var commitSeconds: Double

    public init(name: String, source: any Source, decoder: (any RecordDecoder)?, decoderName: String = "decoder",
                transforms: [(name: String, transform: any Transform)], sink: any Sink, deadLetterPath: String,
                batchRows: Int = 8192, commitRows: Int = 500_000, commitSeconds: Double = 5) {
        self.name = name
        self.source = source
        self.decoder = decoder
        self.decoderName = decoderName
        self.transforms = transforms
        self.sink = sink
        self.deadLetterPath = deadLetterPath
        self.batchRows = batchRows
        self.commitRows = commitRows
        self.commitSeconds = commitSeconds
    }
}

/// What flows from the processing stage to the sink stage.
enum SinkItem: Sendable {
    /// Records (possibly none) and dead letters that end at `cursor` in `file`.
    case data(RecordBatch?, [DeadLetter], file: String, cursor: FileCursor)
    /// `file` is done for this run; `final` means it is complete and its after-load action is due.
    case fileDone(file: String, cursor: FileCursor, final: Bool)
}
