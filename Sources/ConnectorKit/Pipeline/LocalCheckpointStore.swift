import Foundation

/// Checkpoints as JSON in the local state directory, one file per pipeline, written atomically.
public struct LocalCheckpointStore: CheckpointStore {
    public let path: String

    public init(stateDirectory: String, pipeline: String) {
        path = "\(stateDirectory)/\(pipeline)/checkpoint.json"
    }

    public func load() throws -> Checkpoint? {
        guard let bytes = try FileUtilities.readFile(path) else { return nil }
        do {
            return try JSONDecoder().decode(Checkpoint.self, from: Data(bytes))
        } catch {
            throw ConnectorError(.checkpoint, "checkpoint \(path) is unreadable (\(error)); move it away to start over")
        }
    }

    public func save(_ checkpoint: Checkpoint) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileUtilities.writeAtomically(Array(try encoder.encode(checkpoint)), to: path)
    }
}
