import Foundation

/// Makes each run of a pipeline or job happen on one daemon at a time when several daemons (on
/// several machines) schedule the same pipeline files.
///
/// The scheduler claims a work before each run and ends the lease after it, on every path. A
/// daemon that dies loses its lease with its connection, so another one takes the work over at its
/// next scheduled attempt, from the committed checkpoint. Implementations live beside a database
/// (`PostgresRunCoordinator`: an advisory session lock per work); ConnectorKit only states the
/// contract.
public protocol RunCoordinator: Sendable {
    /// Where the leases live, for logs ("PostgreSQL advisory locks on db@host").
    var description: String { get }
    /// Tries to take the next run of `work` without waiting. Throws when the coordination store
    /// cannot be reached: the run then counts as failed and is retried with backoff.
    func claim(_ work: String) async throws -> RunClaim
}

public enum RunClaim: Sendable {
    /// This daemon runs it; end the lease when the run ends, whatever the outcome.
    case granted(any RunLease)
    /// Another daemon is running it now (`holder` names it when known).
    case heldElsewhere(holder: String?)
}

/// One claimed run.
public protocol RunLease: Sendable {
    /// When the last run of this work that succeeded, on any daemon, started (`nil` if none did).
    /// A cron work reads it to skip a firing another daemon already served.
    var lastSuccessfulStart: Date? { get }
    /// Records a successful run's start (when `succeededRunStarted` is given) for every daemon to
    /// see, then releases the claim. Never throws: a lost connection releases it too.
    func end(succeededRunStarted: Date?) async
}
