import Foundation
import MachineSimulator
import Testing
import TestSupport

/// examples/fleet as shipped: its schema.sql and both pipeline files, against the real server,
/// checked row for row against what the simulator wrote.
@Suite(.blockingWork, .serialized, .enabled(if: PG.enabled, "no PostgreSQL on 127.0.0.1:55432: run scripts/pg-start.sh (under CI this suite always runs)"))
struct FleetExampleTests {
    let sim = FleetSimulator(seed: 42)
    let database = "fleet_test_\(UUID().uuidString.prefix(6).lowercased())"

    /// The example copied to a temporary folder, pointed at a database of its own.
    func prepare() throws -> String {
        let dir = try Sluice.tempDir("fleet")
        let example = "\(Sluice.root)/examples/fleet"
        for name in ["veiculos.toml", "manutencoes.toml"] {
            let text = try String(contentsOfFile: "\(example)/connectors.d/\(name)", encoding: .utf8)
            #expect(text.contains("/fleet?"))
            try Sluice.write(text.replacingOccurrences(of: "/fleet?", with: "/\(database)?"), to: "\(dir)/connectors.d/\(name)")
        }
        _ = try PG.psql("CREATE DATABASE \(database)")
        _ = try PG.psql("", database: database, file: "\(example)/schema.sql")
        return dir
    }

    func load(_ dir: String, _ pipeline: String) throws -> Sluice.Result {
        let r = try Sluice.run(["once", pipeline, "--config-dir", "\(dir)/connectors.d", "--state-dir", "\(dir)/state", "--no-progress"],
                               environment: ["PGPASSWORD": "testpw"])
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    func expectedVehicles(_ vehicles: Int, generation: Int) -> [String] {
        (0..<sim.vehicleCount(vehicles, generation: generation)).map { i in
            let v = sim.vehicle(i, generation: generation)
            let line = String(decoding: sim.vehicleLine(v).dropLast(2), as: UTF8.self) // same date text, no CRLF
            let when = line.split(separator: ";").last!
            return "\(v.placa)|\(v.modelo)|\(v.ano)|\(v.km)|\(v.status)|\(when)"
        }.sorted()
    }

    func loadedVehicles() throws -> [String] {
        try PG.psql("SELECT placa, modelo, ano, km, status, to_char(atualizado_em AT TIME ZONE 'America/Sao_Paulo', 'DD/MM/YYYY HH24:MI:SS') FROM veiculos ORDER BY placa COLLATE \"C\"",
                    database: database).split(separator: "\n").map(String.init)
    }

    func expectedMaintenance(_ total: Int, vehicles: Int) -> [String] {
        (0..<total).filter { !sim.isOrphan($0) }.map { k in
            let r = sim.maintenance(k, vehicles: vehicles)
            let date = String(format: "%04d-%02d-%02d", r.data.year, r.data.month, r.data.day)
            return "\(r.id)|\(r.placa)|\(date)|\(r.tipo)|\(r.custo / 100).\(String(format: "%02d", r.custo % 100))|\(r.oficina)"
        }
    }

    func loadedMaintenance() throws -> [String] {
        try PG.psql("SELECT id, placa, data, tipo, custo, oficina FROM manutencoes ORDER BY id", database: database).split(separator: "\n").map(String.init)
    }

    @Test func vehiclesAreUpsertedAndMaintenanceAppendedRowForRowWithForeignKeyViolationsDeadLettered() throws {
        let dir = try prepare()
        defer { _ = try? PG.psql("DROP DATABASE IF EXISTS \(database) WITH (FORCE)") }

        try sim.writeVehicles(path: "\(dir)/incoming/veiculos.csv", vehicles: 50, generation: 0)
        try sim.appendMaintenance(path: "\(dir)/incoming/manutencoes.csv", vehicles: 50, total: 1000)
        #expect(try load(dir, "fleet-veiculos").stdout.contains("50 records written"))
        let first = try load(dir, "fleet-manutencoes")
        #expect(first.stdout.contains("996 records written, 4 dead letters"), "\(first.stdout)")
        #expect(try loadedVehicles() == expectedVehicles(50, generation: 0))
        #expect(try loadedMaintenance() == expectedMaintenance(1000, vehicles: 50))

        // Export 1 rewrites the register in place: changed vehicles updated, 5 new ones inserted.
        let before = Dictionary(uniqueKeysWithValues: try loadedVehicles().map { ($0.split(separator: "|")[0], $0) })
        try sim.writeVehicles(path: "\(dir)/incoming/veiculos.csv", vehicles: 50, generation: 1)
        try sim.appendMaintenance(path: "\(dir)/incoming/manutencoes.csv", vehicles: 50, total: 1500)
        #expect(try load(dir, "fleet-veiculos").stdout.contains("55 records written"))
        let second = try load(dir, "fleet-manutencoes")
        #expect(second.stdout.contains("498 records written, 2 dead letters"), "\(second.stdout)")
        let after = try loadedVehicles()
        #expect(after == expectedVehicles(50, generation: 1))
        let changed = after.filter { row in before[row.split(separator: "|")[0]].map { $0 != row } ?? false }
        #expect(changed.count >= 20, "only \(changed.count) vehicles changed between exports") // odometers moved
        #expect(try loadedMaintenance() == expectedMaintenance(1500, vehicles: 50))

        // Every refused record is in the dead-letter file with the server's reason and its position.
        let letters = Sluice.lines("\(dir)/state/fleet-manutencoes/dead-letter.jsonl")
        #expect(letters.count == 6)
        for (n, line) in letters.enumerated() {
            let k = 249 + 250 * n
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(record["line"] as? Int == k + 2)
            #expect((record["reason"] as? String)?.contains("violates foreign key constraint \"manutencoes_placa_fkey\": Key (placa)=(\(sim.maintenance(k, vehicles: 50).placa)) is not present in table \"veiculos\". (SQLSTATE 23503)") == true,
                    "\(record["reason"] ?? "")")
            // The simulator's text is Latin-1 range only, where Windows-1252 bytes equal code points.
            let expectedRaw = String(String.UnicodeScalarView(sim.maintenanceLine(sim.maintenance(k, vehicles: 50)).dropLast(2).map { Unicode.Scalar($0) }))
            #expect(record["raw"] as? String == expectedRaw) // Windows-1252 decoded, accents intact
            #expect(record["raw_base64"] == nil)
        }
    }
}
