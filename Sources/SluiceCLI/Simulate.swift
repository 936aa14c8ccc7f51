import ArgumentParser
import Foundation
import MachineSimulator

struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Write machine logs like factory machines do (deterministic by seed).",
        discussion: """
            Each machine gets <out>/<machine>/log.txt (xp) or data.csv (linux). Run it again with more --rows to grow the files, by appending or by rewriting them in place.
            --style fleet writes the fleet system's exports instead: <out>/veiculos.csv (the vehicle register, rewritten by each --generation) and <out>/manutencoes.csv (--rows maintenance records in total, appended).
            """)

    @Option(help: "Output folder.") var out: String
    @Option(help: "xp (Windows-1252, ';', decimal comma, dd/MM/yyyy, CRLF), linux (UTF-8 CSV), plant (nine columns, NULLs, plant-local times with milliseconds) or fleet (vehicle register and maintenance records).") var style: String = "xp"
    @Option(help: "Number of machines.") var machines: Int = 3
    @Option(help: "Number of the first machine (press-05 with --first 5): one simulator per PC of a hall.") var first: Int = 1
    @Option(help: "Total rows per machine file after this run.") var rows: Int = 100
    @Option(help: "append, or rewrite (truncate and write everything again, as XP machines do).") var mode: String?
    @Option(help: "Seed for the values.") var seed: UInt64 = 42
    @Option(help: "Repeat: add --rows rows per tick this many times.") var ticks: Int = 1
    @Option(help: "Seconds between ticks.") var interval: Double = 0
    @Option(help: "fleet: vehicles in the first export (each generation adds 10 %).") var vehicles: Int = 50
    @Option(help: "fleet: export generation of veiculos.csv (odometers and statuses change).") var generation: Int = 0

    func run() throws {
        if style == "fleet" {
            let sim = FleetSimulator(seed: seed)
            let n = try sim.writeVehicles(path: "\(out)/veiculos.csv", vehicles: vehicles, generation: generation)
            let added = try sim.appendMaintenance(path: "\(out)/manutencoes.csv", vehicles: vehicles, total: rows)
            print("veiculos.csv: \(n) vehicles (export \(generation)); manutencoes.csv: \(added) records added under \(out)")
            return
        }
        guard let s = MachineSimulator.Style(rawValue: style) else { throw ValidationError("--style must be xp, linux, plant or fleet") }
        let m = MachineSimulator.Mode(rawValue: mode ?? (s == .xp ? "rewrite" : "append"))
        guard let m else { throw ValidationError("--mode must be append or rewrite") }
        let sim = MachineSimulator(style: s, seed: seed)
        for tick in 1...max(1, ticks) {
            var added = 0
            for i in max(1, first)..<(max(1, first) + max(1, machines)) {
                let machine = String(format: "%@-%02d", s == .xp ? "press" : "line", i)
                let path = "\(out)/\(machine)/\(sim.fileName)"
                let total = ticks > 1 ? (try MachineSimulator.countRows(path: path)) + rows : rows
                added += try sim.write(path: path, machine: machine, totalRows: total, mode: m)
            }
            print("tick \(tick): \(added) rows added (\(m.rawValue)) under \(out)")
            if tick < ticks && interval > 0 { Thread.sleep(forTimeInterval: interval) }
        }
    }
}
