import ConnectorKit
import Foundation

/// `state = "postgres"`: the engine's checkpoint of a pipeline whose sink does not keep its own,
/// in the cluster database's `sluice_checkpoints` (the table the PostgreSQL sink keeps its
/// checkpoints in), so that whichever daemon runs the pipeline next starts from it.
///
/// Each call opens a session on a thread of the store's own and closes it: commits are seconds
/// apart, and an idle pipeline holds no connection. A save moves the row only from the checkpoint
/// before it (sequence − 1): a daemon that lost the pipeline to another cannot move it back.
public actor PostgresCheckpointStore: CheckpointStore {
    nonisolated let executor = ThreadExecutor(name: "sluice-state")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    let database: PostgresClusterDatabase
    let pipeline: String

    static var table: String { "public." + SQL.identifier("sluice_checkpoints") }

    public init(database: PostgresClusterDatabase, pipeline: String) {
        self.database = database
        self.pipeline = pipeline
    }

    public func load() throws -> Checkpoint? {
        let conn = try session()
        let rows = try database.run("reading the checkpoint of \(pipeline)") { () throws(PQError) in
            try conn.exec("SELECT checkpoint::text FROM \(Self.table) WHERE pipeline = $1", [pipeline])
        }
        guard let text = rows.first?.first ?? nil else { return nil }
        do {
            return try JSONDecoder().decode(Checkpoint.self, from: Data(text.utf8))
        } catch {
            throw ConnectorError(.checkpoint, "the checkpoint of pipeline \(pipeline) in sluice_checkpoints is unreadable: \(error)", pipeline: pipeline, plugin: "cluster")
        }
    }

    public func save(_ checkpoint: Checkpoint) throws {
        let conn = try session()
        let json = String(decoding: try JSONEncoder().encode(checkpoint), as: UTF8.self)
        let moved = try database.run("saving the checkpoint of \(pipeline)") { () throws(PQError) in
            try conn.exec("""
                INSERT INTO \(Self.table) AS c (pipeline, checkpoint, updated_at) VALUES ($1, $2::jsonb, now())
                ON CONFLICT (pipeline) DO UPDATE SET checkpoint = EXCLUDED.checkpoint, updated_at = now()
                WHERE COALESCE((c.checkpoint->>'sequence')::bigint, 0) = $3::bigint
                RETURNING 1
                """, [pipeline, json, String(checkpoint.sequence - 1)])
        }
        if moved.isEmpty {
            throw ConnectorError(.fenced, "the checkpoint of pipeline \(pipeline) was moved on by another daemon since this run started; "
                                 + "this run's output after its checkpoint is undone when the pipeline is opened again", pipeline: pipeline, plugin: "cluster")
        }
    }

    /// A fresh session, with the table in place; closed when the caller's call returns (the
    /// connection is released with the last reference) and the thread ends when idle.
    private func session() throws -> PQConnection {
        let conn = try database.connect(purpose: "state")
        try database.createAllowingRace("""
            CREATE TABLE IF NOT EXISTS \(Self.table) (
                pipeline text PRIMARY KEY, checkpoint jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())
            """, conn)
        return conn
    }
}
