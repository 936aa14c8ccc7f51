/// A record that could not be loaded, with why and where it came from.
public struct DeadLetter: Sendable, Equatable {
    public var origin: RecordOrigin
    /// Which stage refused it (`csv`, `schema`, `postgres`, …).
    public var stage: String
    public var reason: String
    /// The record as read, in its original encoding.
    public var raw: [UInt8]
    /// The encoding of `raw` by its pipeline-file name, so the writer can render it as text.
    public var rawEncoding: String

    public init(origin: RecordOrigin, stage: String, reason: String, raw: [UInt8], rawEncoding: String = "utf-8") {
        self.origin = origin
        self.stage = stage
        self.reason = reason
        self.raw = raw
        self.rawEncoding = rawEncoding
    }
}

/// Collects the dead letters a transform produces while it processes one batch.
public struct DeadLetterCollector: Sendable {
    public private(set) var letters: [DeadLetter] = []
    public let stage: String

    public init(stage: String) { self.stage = stage }

    /// Records row `row` of `batch` as dead with `reason`.
    public mutating func reject(_ batch: RecordBatch, row: Int, reason: String) {
        reject(batch.origins, row: row, reason: reason)
    }

    /// Records row `row` of the records described by `origins` as dead with `reason`.
    public mutating func reject(_ origins: RecordOrigins, row: Int, reason: String) {
        letters.append(DeadLetter(origin: origins.origin(row), stage: stage, reason: reason,
                                  raw: origins.rawBytes(row), rawEncoding: origins.rawEncoding))
    }

    public mutating func append(_ letter: DeadLetter) { letters.append(letter) }
    public mutating func append(contentsOf other: [DeadLetter]) { letters.append(contentsOf: other) }
}
