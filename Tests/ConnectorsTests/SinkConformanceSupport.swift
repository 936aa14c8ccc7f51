import ConnectorKit
import ConnectorKitTesting
import Foundation

/// Starts `SinkConformanceChild` (built beside the tests) for `SinkConformance.checkKill`.
enum ConformanceChild {
    static var binary: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [beside, beside.deletingLastPathComponent(), beside.deletingLastPathComponent().deletingLastPathComponent()] {
            let candidate = dir.appendingPathComponent("SinkConformanceChild").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/SinkConformanceChild").path
    }

    static func spawn(_ arguments: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        let out = ProcessLaunch.pipe()
        p.standardOutput = out
        try ProcessLaunch.run(p)
        return (p, out)
    }
}
