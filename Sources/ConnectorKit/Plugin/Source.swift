/// Produces the new input of a pipeline since a checkpoint.
///
/// File-based sources emit raw bytes with positions (see `TailingSource`, which every file
/// source should use); record sources emit `RecordBatch`es.
///
/// ## Implementation requirements
/// - `run` reads what is new since `checkpoint`, passes it to `emit` in order, and returns once
///   caught up or when `context.stop` is set. `emit` suspends while downstream is busy: that is the
///   back-pressure, so a source must not buffer ahead of it.
/// - A source never advances a checkpoint itself: the engine commits cursors after the sink has
///   made the data durable, then calls `didCommit(file:)` for files that were read to their end.
public protocol Source: Sendable {
    func run(from checkpoint: Checkpoint, context: RunContext, emit: @Sendable (SourceEvent) async throws -> Void) async throws
    /// Called after a checkpoint in which `file` is completely loaded was committed; the place
    /// for after-load actions such as deleting or moving the file.
    func didCommit(file: String, cursor: FileCursor, context: RunContext) async throws
    /// Called after every commit, with the checkpoint now durable: a record source may tell its
    /// origin that everything up to its cursor is safe (an acknowledgement). Errors are its own.
    func committed(_ checkpoint: Checkpoint, context: RunContext) async
    /// The engine's run is over, committed or failed, after-load actions done: the place to close
    /// connections, so none is left for the process's exit to tear down.
    func endRun(context: RunContext) async
    /// The source will not run again (a command such as `sluice once` ends): end what it keeps
    /// between runs, such as an SMB helper process, so it ends cleanly rather than with the process.
    func shutdown() async
}

extension Source {
    public func didCommit(file: String, cursor: FileCursor, context: RunContext) async throws {}
    public func committed(_ checkpoint: Checkpoint, context: RunContext) async {}
    public func endRun(context: RunContext) async {}
    public func shutdown() async {}
}

/// What a source hands downstream.
public enum SourceEvent: Sendable {
    /// Reading of `file` starts (or resumes) at `cursor.offset`.
    case open(FileOpen)
    /// The next bytes of `file`, directly after the previous ones.
    case bytes(file: String, [UInt8])
    /// No more bytes of `file` in this run. `final` means the file is complete and will be removed
    /// or moved after commit, so a trailing record without a line end must be flushed now.
    case close(file: String, final: Bool)
    /// Records from a source that is not file-based, with the cursor to commit once they are written.
    case records(RecordBatch, file: String, cursor: FileCursor)
    /// Records a record source could not make into its schema, with their reasons, and the cursor
    /// that covers them: they go to the dead-letter output, committed like records.
    case deadLetters([DeadLetter], file: String, cursor: FileCursor)
}

public struct FileOpen: Sendable {
    public enum Reason: String, Sendable { case new, resumed, restarted }
    public var file: String
    public var cursor: FileCursor
    /// The bytes just before `cursor.offset` (up to `FileCursor.windowSize`), read while verifying.
    public var window: [UInt8]
    public var reason: Reason
    public var size: Int64

    public init(file: String, cursor: FileCursor, window: [UInt8], reason: Reason, size: Int64) {
        self.file = file
        self.cursor = cursor
        self.window = window
        self.reason = reason
        self.size = size
    }
}
