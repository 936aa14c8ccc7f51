/// Maps batches to batches: casts, renames, derived columns, filters.
///
/// ## Implementation requirements
/// - A record that cannot be transformed goes to `deadLetters` (with `DeadLetterCollector.reject`)
///   and is left out of the result; the other records go on.
/// - An empty result means every record was filtered out or rejected.
/// - Transforms are values shared by tasks: keep per-batch state local.
public protocol Transform: Sendable {
    func process(_ batch: RecordBatch, context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch
}

public struct TransformContext: Sendable {
    public var pipeline: String
    /// When this run started (seconds since the epoch), for `ingest_time`.
    public var runStarted: Double

    public init(pipeline: String, runStarted: Double) {
        self.pipeline = pipeline
        self.runStarted = runStarted
    }
}

/// A transform that can read a decoder's text fields in place. When it directly follows the
/// decoder, the engine gives it the `TextBatch` instead of building string columns first.
///
/// ## Implementation requirements
/// - `process(text:)` returns what `process(text.recordBatch())` would, dead letters included.
public protocol TextTransform: Transform {
    func process(text: TextBatch, context: TransformContext, deadLetters: inout DeadLetterCollector) throws -> RecordBatch
}
