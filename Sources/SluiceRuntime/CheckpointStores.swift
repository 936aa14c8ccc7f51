import ConnectorKit
import PipelineLoader

/// Where each pipeline's engine keeps its checkpoint when the sink does not keep it with its rows:
/// a file in the state folder (`state = "local"`), or the cluster's shared store (`state =
/// "postgres"`), so that another daemon can take the pipeline over from it.
public struct CheckpointStores: Sendable {
    public let stateDirectory: String
    /// This daemon's name in its cluster (stable across restarts); nil outside a cluster.
    public let instance: String?
    /// The shared store of one pipeline; nil when no `[daemon.cluster]` is configured.
    public let shared: (@Sendable (_ pipeline: String) -> any CheckpointStore)?

    public init(stateDirectory: String, instance: String? = nil, shared: (@Sendable (_ pipeline: String) -> any CheckpointStore)? = nil) {
        self.stateDirectory = stateDirectory
        self.instance = instance
        self.shared = shared
    }

    /// Under which key a checkpoint keeps this daemon's dead-letter length: in a cluster the
    /// checkpoint travels between daemons, and each has its own dead-letter file.
    public var deadLetterKey: String { DeadLetterWriter.outputKey(instance: instance) }

    public func store(for definition: PipelineDefinition) throws -> any CheckpointStore {
        switch definition.settings.state {
        case .local:
            return LocalCheckpointStore(stateDirectory: stateDirectory, pipeline: definition.name)
        case .postgres:
            guard let shared else {
                throw ConnectorError(.configuration, "state = \"postgres\" keeps the checkpoint in the cluster's database, and sluice.toml has no [daemon.cluster] url",
                                     pipeline: definition.name, file: definition.file)
            }
            return shared(definition.name)
        }
    }
}
