/// Writes batches and commits them together with the checkpoint of the input they came from.
///
/// ## The commit contract
/// The engine drives a sink as `open`, then any number of `write`s, each group ended by `flush`
/// and `commit`, then `close`. A commit makes the batches written since the previous commit durable
/// *and* records the checkpoint that covers them, as one step: after it returns, both survive a
/// crash; if the process dies before it returns, neither may count.
///
/// **After `write`, `flush` or `commit` throws, nothing is committed until the sink is opened
/// again.** The failed attempt may have lost buffered rows, an open transaction or a connection,
/// so the checkpoint in the engine's hands no longer describes what the target holds. The engine
/// never calls `commit` after such a failure; it calls `close`, and the retry calls `open`, which
/// returns the last *durable* checkpoint, and re-reads the input from there. A sink must enforce
/// this itself too (a `commit` after a failed `write` throws), so that no caller can commit rows
/// that died with a transaction. A failure of the *source* or of a transform is different: the
/// sink is healthy, and the engine commits what the sink already holds before failing the run.
///
/// ## Where the checkpoint lives
/// - `.engine` (the default): the engine loads the checkpoint from its store (a file in the state
///   directory) and hands it to `open` as `context.committed`; after `commit` returns, the engine
///   saves the checkpoint `commit` returned. A crash between the two leaves the previous
///   checkpoint, so `open` must undo what was made durable after it (truncate a file to the length
///   recorded in `outputs`, remove files named with a sequence above `sequence`).
/// - `.sink`: the sink keeps the checkpoint with its data, in the same transaction (PostgreSQL's
///   `sluice_checkpoints` row). The engine never touches its store; `open` reads the checkpoint
///   back from the target.
///
/// ## Implementation requirements
/// - `open` returns the last committed checkpoint and undoes anything written after it, so a crash
///   at any point neither loses nor duplicates records. It also ends any failed state: after
///   `open` returns, the sink accepts writes again.
/// - `write` may buffer; nothing may be visible to readers of the target before `commit`. It
///   returns the records the target refused one by one (e.g. a foreign-key violation), with the
///   target's reason; they go to the dead-letter output and the rest of the batch is kept. A sink
///   that streams may learn of a refusal later: it returns those records from a later `write` or
///   from `flush` (records carry their own origin).
/// - A sink that learns of a refusal only in a way that voids everything since the last commit
///   (a bulk load without savepoints) may roll back and throw `ConnectorError.Code.replay`: the
///   engine closes it, opens it again at once (no backoff) and reads again from the last commit;
///   the sink then loads more carefully until it has committed past the refused records. A sink
///   that asks for replays without committing in between fails the run after a few.
/// - `flush` is called before every `commit`: it sends what is buffered and returns the records
///   the target refused among them, which the engine writes to the dead-letter output before the
///   commit makes the checkpoint durable.
/// - `commit` makes every batch written since the previous commit durable and records `checkpoint`
///   (its `sequence` grows by one per commit; a sink may use it to name what it commits). It
///   returns the checkpoint as committed, with the sink's own entries added (`outputs`,
///   `sinkState`). It throws, and commits nothing, when a `write` or `flush` since the last `open`
///   failed.
/// - `close` releases connections, threads and handles. It never commits: what was written since
///   the last commit is abandoned (rolled back now, or cut off by the next `open`). The engine
///   calls it at the end of every run, failed runs included.
public protocol Sink: Sendable {
    /// Who keeps this sink's checkpoint; see the type's documentation.
    var checkpointCustody: CheckpointCustody { get }
    /// How often this sink would like to be committed, when the pipeline file does not say
    /// (`commit_rows`, `commit_interval`). A sink that writes a file per commit proposes few, large
    /// commits; `nil` takes the engine's defaults.
    var commitPolicy: CommitPolicy? { get }
    func open(context: SinkContext) async throws -> Checkpoint
    func write(_ batch: RecordBatch) async throws -> [DeadLetter]
    func flush() async throws -> [DeadLetter]
    func commit(_ checkpoint: Checkpoint) async throws -> Checkpoint
    func close() async throws
}

extension Sink {
    public var checkpointCustody: CheckpointCustody { .engine }
    public var commitPolicy: CommitPolicy? { nil }
    public func flush() async throws -> [DeadLetter] { [] }
    public func close() async throws {}
}

/// Commit at least every `rows` records and at least every `seconds`.
public struct CommitPolicy: Sendable, Equatable {
    public var rows: Int
    public var seconds: Double

    public init(rows: Int, seconds: Double) {
        self.rows = rows
        self.seconds = seconds
    }

    /// The engine's defaults.
    public static let standard = CommitPolicy(rows: 500_000, seconds: 5)
}

/// Who keeps a sink's checkpoint.
public enum CheckpointCustody: Sendable {
    /// The engine, in its checkpoint store, saved after each commit.
    case engine
    /// The sink, with its data, in the same transaction.
    case sink
}

public struct SinkContext: Sendable {
    public var pipeline: String
    /// The checkpoint the engine's store holds (`nil` before the first commit). Only meaningful
    /// for sinks whose checkpoint the engine keeps.
    public var committed: Checkpoint?

    public init(pipeline: String, committed: Checkpoint? = nil) {
        self.pipeline = pipeline
        self.committed = committed
    }
}

/// Where the engine keeps checkpoints for sinks that do not keep them with their data: a file in
/// the state folder, or a database row that daemons on several machines share.
public protocol CheckpointStore: Sendable {
    func load() async throws -> Checkpoint?
    /// Saves the checkpoint a sink has just committed. A shared store refuses (`.fenced`) one
    /// whose predecessor is not the checkpoint it holds: another daemon moved the pipeline on.
    func save(_ checkpoint: Checkpoint) async throws
}
