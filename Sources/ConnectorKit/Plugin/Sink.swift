/// Writes batches and commits them together with the checkpoint of the input they came from.
///
/// ## Implementation requirements
/// - `open` returns the last committed checkpoint and undoes anything written after it
///   (e.g. truncates a file to its committed length), so a crash at any point neither loses nor
///   duplicates records. Sinks that are not transactional keep the checkpoint in
///   `context.checkpointStore`; transactional sinks may keep it with the data instead.
/// - `commit` makes every batch written since the previous commit durable and then persists
///   `checkpoint` (adding their own entries to `checkpoint.outputs` where they need them). After it
///   returns, those records must survive a crash.
/// - `write` may buffer; nothing is visible to readers of the target before `commit` is required.
///   It returns the records the target refused one by one (e.g. a foreign-key violation), with the
///   target's reason; they go to the dead-letter output and the rest of the batch is kept.
///   A sink that streams may learn of a refusal later: it returns those records from a later
///   `write` or from `flush` (records carry their own origin).
/// - `flush` is called before every `commit`: it sends what is buffered and returns the records
///   the target refused among them, which the engine writes to the dead-letter output before the
///   commit makes the checkpoint durable.
public protocol Sink: Sendable {
    func open(context: SinkContext) async throws -> Checkpoint
    func write(_ batch: RecordBatch) async throws -> [DeadLetter]
    func flush() async throws -> [DeadLetter]
    func commit(_ checkpoint: Checkpoint) async throws
    func close() async throws
}

extension Sink {
    public func flush() async throws -> [DeadLetter] { [] }
    public func close() async throws {}
}

public struct SinkContext: Sendable {
    public var pipeline: String
    public var checkpointStore: any CheckpointStore

    public init(pipeline: String, checkpointStore: any CheckpointStore) {
        self.pipeline = pipeline
        self.checkpointStore = checkpointStore
    }
}

/// Where checkpoints live when the sink does not keep them itself.
public protocol CheckpointStore: Sendable {
    func load() throws -> Checkpoint?
    func save(_ checkpoint: Checkpoint) throws
}
