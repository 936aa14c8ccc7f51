import ConnectorKit
import PipelineLoader

/// Where each pipeline's engine keeps its checkpoint when the sink does not keep it with its rows:
/// a file in the state folder (`state = "local"`), or the cluster's shared store (`state =
/// "postgres"`), so that another daemon can take the pipeline over from it.
public struct CheckpointStores: Sendable {
    public let stateDirectory: String
    /// The shared store of one pipeline; nil when no `[daemon.cluster]` is configured.
    public let shared: (@Sendable (_ pipeline: String) -> any CheckpointStore)?

    public init(stateDirectory: String, shared: (@Sendable (_ pipeline: String) -> any CheckpointStore)? = nil) {
        self.stateDirectory = stateDirectory
        self.shared = shared
    }

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
