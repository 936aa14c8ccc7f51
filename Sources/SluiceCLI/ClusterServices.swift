import ArgumentParser
import ConnectorKit
import Logging
import PipelineLoader
import PostgresConnector
import SluiceRuntime

/// What `[daemon.cluster]` in sluice.toml sets up: the run coordinator and the shared checkpoint
/// store (`state = "postgres"`), both in the cluster's PostgreSQL. Without it, runs are not
/// claimed and checkpoints stay in the state folder.
struct ClusterServices {
    let coordinator: (any RunCoordinator)?
    let checkpointStores: CheckpointStores
    let node: String?

    init(settings: DaemonSettings, settingsFile: String, stateDirectory: String, logger: Logger) throws {
        guard let cluster = settings.cluster else {
            coordinator = nil
            node = nil
            checkpointStores = CheckpointStores(stateDirectory: stateDirectory)
            return
        }
        let password: String?
        do { password = try cluster.resolvedPassword(settingsFile: settingsFile) } catch {
            printError("error: \(error)")
            throw ExitCode(1)
        }
        let database = PostgresClusterDatabase(url: cluster.url, password: password,
                                               node: cluster.node ?? PostgresClusterDatabase.defaultNode(stateDirectory: stateDirectory),
                                               connectTimeout: cluster.connectTimeout.seconds)
        coordinator = PostgresRunCoordinator(database: database, logger: logger)
        node = database.node
        checkpointStores = CheckpointStores(stateDirectory: stateDirectory, instance: database.node) { pipeline in
            PostgresCheckpointStore(database: database, pipeline: pipeline)
        }
    }
}
