import Foundation
import MachineSimulator
import Testing
import TestSupport

/// The throwaway MariaDB of scripts/mariadb-start.sh, through the `mariadb` client.
enum MariaDB {
    static let port = 53306
    static let required = ProcessInfo.processInfo.environment["CI"] == "true"
    static var client: String? { ExternalTool.path("mariadb") }
    static let available: Bool = (try? query("SELECT 1", database: "sluice_test")) == "1"
    static let enabled = available || required

    /// Tab-separated rows, no header.
    static func query(_ sql: String, database: String) throws -> String {
        guard let client else { throw HTTP.Failure(description: "the mariadb client is missing (apt-get install mariadb-client)") }
        let r = try ExternalTool.run("/usr/bin/env", ["MYSQL_PWD=testpw", client, "--no-defaults", "-h", "127.0.0.1", "-P", "\(port)", "-u", "sluice",
                                                      "-N", "-B", database, "-e", sql])
        guard r.status == 0 else { throw HTTP.Failure(description: "mariadb: \(r.output)") }
        return r.output.trimmingCharacters(in: .newlines)
    }
}

/// examples/fleet/mysql as shipped: the second plant's fleet on MariaDB, checked row for row
/// against what the simulator wrote (the PostgreSQL version is FleetExampleTests).
@Suite(.blockingWork, .serialized, .enabled(if: MariaDB.enabled, "no MariaDB on 127.0.0.1:53306: run scripts/mariadb-start.sh (under CI this suite always runs)"))
struct FleetExampleMySQLTests {
    let sim = FleetSimulator(seed: 42)
    let database = "fleet_test_\(UUID().uuidString.prefix(6).lowercased())"

    func prepare() throws -> String {
        let dir = try Sluice.tempDir("fleet-mysql")
        let example = "\(Sluice.root)/examples/fleet/mysql"
        for name in ["veiculos.toml", "manutencoes.toml"] {
            let text = try String(contentsOfFile: "\(example)/connectors.d/\(name)", encoding: .utf8)
            #expect(text.contains("/fleet\""))
            try Sluice.write(text.replacingOccurrences(of: "/fleet\"", with: "/\(database)\""), to: "\(dir)/connectors.d/\(name)")
        }
        _ = try MariaDB.query("CREATE DATABASE \(database) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", database: "sluice_test")
        _ = try MariaDB.query(try String(contentsOfFile: "\(example)/schema.sql", encoding: .utf8), database: database)
        return dir
    }

    func load(_ dir: String, _ pipeline: String) throws -> Sluice.Result {
        let r = try Sluice.run(["once", pipeline, "--config-dir", "\(dir)/connectors.d", "--state-dir", "\(dir)/state", "--no-progress"],
                               environment: ["FLEET_DB_PASSWORD": "testpw"])
        #expect(r.status == 0, "\(r.stderr)")
        return r
    }

    /// `dd/MM/yyyy HH:mm:ss` in São Paulo, from the UTC DATETIME the sink stored.
    static func local(_ utc: String) -> String {
        let parse = DateFormatter()
        parse.timeZone = TimeZone(identifier: "UTC")
        parse.locale = Locale(identifier: "en_US_POSIX")
        parse.dateFormat = "yyyy-MM-dd HH:mm:ss.SSSSSS"
        let format = DateFormatter()
        format.timeZone = TimeZone(identifier: "America/Sao_Paulo")
        format.locale = Locale(identifier: "en_US_POSIX")
        format.dateFormat = "dd/MM/yyyy HH:mm:ss"
        return parse.date(from: utc).map(format.string) ?? "?\(utc)"
    }

    func expectedVehicles(_ vehicles: Int, generation: Int) -> [String] {
        (0..<sim.vehicleCount(vehicles, generation: generation)).map { i in
            let v = sim.vehicle(i, generation: generation)
            let line = String(decoding: sim.vehicleLine(v).dropLast(2), as: UTF8.self)
            return "\(v.placa)|\(v.modelo)|\(v.ano)|\(v.km)|\(v.status)|\(line.split(separator: ";").last!)"
        }.sorted()
    }

    func loadedVehicles() throws -> [String] {
        try MariaDB.query("SELECT placa, modelo, ano, km, status, atualizado_em FROM veiculos ORDER BY placa", database: database)
            .split(separator: "\n").map { row in
                var f = row.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                f[5] = Self.local(f[5])
                return f.joined(separator: "|")
            }
    }

    func expectedMaintenance(_ total: Int, vehicles: Int) -> [String] {
        (0..<total).filter { !sim.isOrphan($0) }.map { k in
            let r = sim.maintenance(k, vehicles: vehicles)
            let date = String(format: "%04d-%02d-%02d", r.data.year, r.data.month, r.data.day)
            return "\(r.id)|\(r.placa)|\(date)|\(r.tipo)|\(r.custo / 100).\(String(format: "%02d", r.custo % 100))|\(r.oficina)"
        }
    }

    func loadedMaintenance() throws -> [String] {
        try MariaDB.query("SELECT id, placa, data, tipo, custo, oficina FROM manutencoes ORDER BY id", database: database)
            .split(separator: "\n").map { $0.replacingOccurrences(of: "\t", with: "|") }
    }

    @Test func vehiclesAreUpsertedAndMaintenanceAppendedRowForRowWithForeignKeyViolationsDeadLettered() throws {
        let dir = try prepare()
        defer { _ = try? MariaDB.query("DROP DATABASE IF EXISTS \(database)", database: "sluice_test") }

        try sim.writeVehicles(path: "\(dir)/incoming/veiculos.csv", vehicles: 50, generation: 0)
        try sim.appendMaintenance(path: "\(dir)/incoming/manutencoes.csv", vehicles: 50, total: 1000)
        #expect(try load(dir, "fleet-veiculos").stdout.contains("50 records written"))
        let first = try load(dir, "fleet-manutencoes")
        #expect(first.stdout.contains("996 records written, 4 dead letters"), "\(first.stdout)")
        #expect(try loadedVehicles() == expectedVehicles(50, generation: 0))
        #expect(try loadedMaintenance() == expectedMaintenance(1000, vehicles: 50))

        try sim.writeVehicles(path: "\(dir)/incoming/veiculos.csv", vehicles: 50, generation: 1)
        try sim.appendMaintenance(path: "\(dir)/incoming/manutencoes.csv", vehicles: 50, total: 1500)
        #expect(try load(dir, "fleet-veiculos").stdout.contains("55 records written"))
        let second = try load(dir, "fleet-manutencoes")
        #expect(second.stdout.contains("498 records written, 2 dead letters"), "\(second.stdout)")
        #expect(try loadedVehicles() == expectedVehicles(50, generation: 1))
        #expect(try loadedMaintenance() == expectedMaintenance(1500, vehicles: 50))

        let letters = Sluice.lines("\(dir)/state/fleet-manutencoes/dead-letter.jsonl")
        #expect(letters.count == 6)
        for (n, line) in letters.enumerated() {
            let k = 249 + 250 * n
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            #expect(record["line"] as? Int == k + 2)
            #expect((record["reason"] as? String)?.contains("a foreign key constraint fails (`\(database)`.`manutencoes`, CONSTRAINT `manutencoes_placa_fkey`") == true,
                    "\(record["reason"] ?? "")")
            #expect((record["reason"] as? String)?.contains("(error 1452, SQLSTATE 23000)") == true)
        }
    }
}
