import Foundation
import Glibc
import Testing

/// The plant's own `sluice` (SluiceCLI.main with the two plugins added), run as a process.
@Suite(.serialized, .enabled(if: PLCStandIn.available || ProcessInfo.processInfo.environment["CI"] != nil,
                             "no Python with pymodbus: run bash scripts/py-env.sh (under CI this suite always runs)"))
struct PlantSluiceTests {
    static var binary: String {
        ProcessInfo.processInfo.environment["PLANT_SLUICE_BIN"] ?? PLCStandIn.packageRoot + "/.build/debug/plant-sluice"
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let p = try start(arguments, environment: environment)
        let out = (p.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (p.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: out, as: UTF8.self), stderr: String(decoding: err, as: UTF8.self))
    }

    static func start(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = Pipe()
        p.standardError = Pipe()
        try p.run()
        return p
    }

    static func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "plant-sluice-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir + "/conf", withIntermediateDirectories: true)
        return dir
    }

    /// The JSON objects of a JSON-lines file.
    static func rows(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func itListsItsOwnPluginsBesideTheBuiltIns() throws {
        let list = try Self.run(["sample"])
        #expect(list.status == 0)
        for type in ["modbus", "limits", "files", "csv", "postgres", "smb"] {
            #expect(list.stdout.contains(" \(type) "), "\(type) missing from:\n\(list.stdout)")
        }
        let sample = try Self.run(["sample", "modbus"])
        #expect(sample.stdout.contains("[source]\ntype = \"modbus\""), "\(sample.stdout)")
    }

    @Test func theShippedPipelineValidatesAndABadKeyIsNamedWithItsLine() throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Self.run(["validate", "--config-dir", PLCStandIn.packageRoot + "/connectors.d"],
                                environment: ["PLC_ADDRESS": "127.0.0.1:5020", "PLANT_OUT": dir])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        try """
            [pipeline]
            name = "bad"
            [source]
            type = "modbus"
            address = "127.0.0.1:5020"
            registers = [
              { name = "a", address = 0, type = "int64" },
            ]
            [sink]
            type = "jsonl"
            path = "out.jsonl"
            """.write(toFile: dir + "/conf/bad.toml", atomically: true, encoding: .utf8)
        let bad = try Self.run(["validate", "--config-dir", dir + "/conf"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("bad.toml:7: source.registers[0].type: expected one of \"int16\", \"uint16\", \"int32\", \"uint32\", \"float32\", found \"int64\""),
                "\(bad.stderr)")
        // A problem validate() finds is named at its line too.
        try """
            [pipeline]
            name = "bad"
            [source]
            type = "modbus"
            address = "127.0.0.1:5020"
            registers = [
              { name = "a", address = 0 },
              { name = "sample", address = 1 },
            ]
            [sink]
            type = "jsonl"
            path = "out.jsonl"
            """.write(toFile: dir + "/conf/bad.toml", atomically: true, encoding: .utf8)
        let taken = try Self.run(["validate", "--config-dir", dir + "/conf"])
        #expect(taken.stderr.contains("bad.toml:8: source.registers[1].name: 'sample' is taken"), "\(taken.stderr)")
    }

    /// A load from the simulated press; the flag matches the temperature in every row.
    @Test func itLoadsThePressWithTheFlagSet() throws {
        let plc = try PLCStandIn(simulate: true)
        defer { plc.stop() }
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.pipeline(samples: 20, interval: "20ms", batch: 5).write(toFile: dir + "/conf/press.toml", atomically: true, encoding: .utf8)
        let r = try Self.run(["once", "press", "--config-dir", dir + "/conf", "--state-dir", dir + "/state", "--no-progress"],
                             environment: ["PLC_ADDRESS": plc.address, "PLANT_OUT": dir])
        #expect(r.status == 0, "\(r.stderr)")
        let rows = try Self.rows(dir + "/press.jsonl")
        #expect(rows.map { $0["sample"] as? Int } == Array(1...20))
        for row in rows {
            let t = try #require(row["temperature"] as? Double)
            #expect(row["overheated"] as? Bool == (t > 70), "\(row)")
            #expect((50...80).contains(t))
        }
    }

    /// SIGKILL in the middle of runs, three times, then a run to the end: the samples in the
    /// output are 1, 2, 3, … with none repeated and none missing, and the checkpoint agrees.
    @Test func killedMidRunItNeitherRepeatsNorSkipsASample() async throws {
        let plc = try PLCStandIn(simulate: true)
        defer { plc.stop() }
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.pipeline(samples: 100, interval: "10ms", batch: 3).write(toFile: dir + "/conf/press.toml", atomically: true, encoding: .utf8)
        let arguments = ["once", "press", "--config-dir", dir + "/conf", "--state-dir", dir + "/state", "--no-progress"]
        let environment = ["PLC_ADDRESS": plc.address, "PLANT_OUT": dir]
        var killed = 0
        for delay in [0.4, 0.7, 0.55] {
            let p = try Self.start(arguments, environment: environment)
            try await Task.sleep(for: .seconds(delay))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                killed += 1
            }
            p.waitUntilExit()
        }
        #expect(killed == 3, "the runs ended before the kill: make them longer")
        let last = try Self.run(arguments, environment: environment)
        #expect(last.status == 0, "\(last.stderr)")
        let samples = try Self.rows(dir + "/press.jsonl").compactMap { $0["sample"] as? Int }
        #expect(samples.count >= 100)
        #expect(samples == Array(1...samples.count), "repeated or missing samples: \(samples)")
        let checkpoint = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/state/press/checkpoint.json"))) as! [String: Any]
        let cursor = (checkpoint["files"] as? [String: [String: Any]])?["modbus://\(plc.address)/1"]
        #expect(cursor?["offset"] as? Int == samples.count)
    }

    static func pipeline(samples: Int, interval: String, batch: Int) -> String {
        """
        [pipeline]
        name = "press"
        commit_rows = \(batch)
        commit_interval = "10ms"
        [source]
        type = "modbus"
        address = "${PLC_ADDRESS}"
        interval = "\(interval)"
        samples = \(samples)
        batch = \(batch)
        registers = [
          { name = "parts", address = 0, type = "uint32" },
          { name = "temperature", address = 2, type = "int16", scale = 0.1 },
          { name = "pressure", address = 3, type = "float32" },
        ]
        [[transform]]
        type = "limits"
        column = "temperature"
        max = 70.0
        flag = "overheated"
        [sink]
        type = "jsonl"
        path = "${PLANT_OUT}/press.jsonl"
        """
    }
}
