import Foundation
import MachineSimulator
import Testing
import TestSupport

/// `sluice run` as a process: schedules, `after`, and files that cannot start.
@Suite struct DaemonTests {
    /// The fleet's order: `maintenance` has `after = ["vehicles"]` and so runs only once vehicles'
    /// run has committed. A pipeline naming an unknown upstream and a file that does not parse are
    /// reported; the daemon starts the others.
    @Test func afterRunsInOrderAndBrokenFilesDoNotStopTheDaemon() throws {
        let dir = try Sluice.tempDir("after")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try MachineSimulator(style: .linux, seed: 3).write(path: "\(dir)/in/line-01/data.csv", machine: "line-01", totalRows: 200, mode: .append)
        func pipeline(_ name: String, _ settings: String) -> String {
            """
            [pipeline]
            name = "\(name)"
            \(settings)
            \(Sluice.simulatorInput(dir, requiredTimestamp: false))
            [sink]
            type = "jsonl"
            path = "\(dir)/out-\(name).jsonl"
            """
        }
        try Sluice.write(pipeline("vehicles", "schedule = \"every 1s\""), to: "\(dir)/conf/vehicles.toml")
        try Sluice.write(pipeline("maintenance", "after = [\"vehicles\"]"), to: "\(dir)/conf/maintenance.toml")
        try Sluice.write(pipeline("orphan", "after = [\"nowhere\"]"), to: "\(dir)/conf/orphan.toml")
        try Sluice.write("[pipeline\nname = ", to: "\(dir)/conf/broken.toml")
        let (p, out, err) = try Sluice.start(["run", "--config-dir", "\(dir)/conf", "--state-dir", "\(dir)/state"])
        let collected = Sluice.collect(out, err)
        let deadline = Date().addingTimeInterval(30)
        while Sluice.lines("\(dir)/out-maintenance.jsonl").count < 200 && p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        kill(p.processIdentifier, SIGTERM)
        let result = Sluice.finish(p, collected, timeLimit: 30)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Sluice.lines("\(dir)/out-vehicles.jsonl").count == 200)
        #expect(Sluice.lines("\(dir)/out-maintenance.jsonl").count == 200)
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/out-orphan.jsonl"))
        #expect(result.stderr.contains("'nowhere'"), "the unknown upstream is not reported: \(result.stderr)")
        #expect(result.stderr.contains("broken.toml"), "the broken file is not reported: \(result.stderr)")
        // The first committed run of maintenance comes after vehicles' first one.
        let log = result.stderr.split(separator: "\n")
        let vehiclesFirst = log.firstIndex { $0.contains("run finished") && $0.contains("pipeline=vehicles") }
        let maintenanceFirst = log.firstIndex { $0.contains("run finished") && $0.contains("pipeline=maintenance") }
        #expect(vehiclesFirst != nil && maintenanceFirst != nil, "\(result.stderr)")
        if let v = vehiclesFirst, let m = maintenanceFirst { #expect(v < m) }
    }
}
