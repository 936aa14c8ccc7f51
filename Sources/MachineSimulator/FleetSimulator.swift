import Foundation

/// The fleet seed's exports, deterministically from a seed, as an old fleet-management system
/// writes them: Windows-1252, `;`, decimal comma, `dd/MM/yyyy`.
/// - `veiculos.csv`: the whole vehicle register, rewritten in place by every export. Export
///   `generation` g changes some vehicles' odometer and status, and adds vehicles.
/// - `manutencoes.csv`: maintenance records, appended. One record in 250 names a plate that is
///   not in the register (a vehicle sold before the export), which the database's foreign key refuses.
public struct FleetSimulator: Sendable {
    public var seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    public struct Vehicle: Sendable, Equatable {
        public var placa: String
        public var modelo: String
        public var ano: Int
        public var km: Int
        public var status: String
        /// Seconds since the epoch, São Paulo wall clock (as the export writes it).
        public var atualizadoEm: Int64
    }

    public struct Maintenance: Sendable, Equatable {
        public var id: Int
        public var placa: String
        public var data: (year: Int, month: Int, day: Int)
        public var tipo: String
        /// Cents.
        public var custo: Int
        public var oficina: String

        public static func == (a: Maintenance, b: Maintenance) -> Bool {
            a.id == b.id && a.placa == b.placa && a.data == b.data && a.tipo == b.tipo && a.custo == b.custo && a.oficina == b.oficina
        }
    }

    static let models = ["Volvo FH 540", "Scania R 450", "Mercedes-Benz Actros 2651", "VW Constellation 24.280", "Iveco S-Way 480", "DAF XF 530"]
    static let statuses = ["ATIVO", "ATIVO", "ATIVO", "OFICINA", "INATIVO"]
    static let kinds = ["Troca de óleo", "Pneus", "Freios", "Revisão geral", "Embreagem", "Suspensão", "Elétrica"]
    static let shops = ["Oficina São Cristóvão", "Auto Center Guarulhos", "Diesel Paraná", "Mecânica Irmãos Fávero"]

    public static let vehicleHeader = "placa;modelo;ano;km;status;atualizado_em"
    public static let maintenanceHeader = "id;placa;data;tipo;custo;oficina"

    /// Mercosul plate of vehicle `i` (`ABC1D23`), unique per index.
    public func plate(_ i: Int) -> String {
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var rng = SplitMix64(seed: seed ^ 0xF1EE7 ^ UInt64(i))
        let a = letters[Int(rng.next() % 26)], b = letters[Int(rng.next() % 26)]
        // Index-derived digits and letters keep plates unique without a lookup table.
        let c = letters[i % 26], d = (i / 26) % 10, e = letters[(i / 260) % 26], f = i % 100
        return "\(a)\(b)\(c)\(d)\(e)\(f < 10 ? "0" : "")\(f)"
    }

    /// Vehicles in the register of export `generation` (grows by 10 % per generation).
    public func vehicleCount(_ vehicles: Int, generation: Int) -> Int { vehicles + generation * max(1, vehicles / 10) }

    public func vehicle(_ i: Int, generation: Int) -> Vehicle {
        var rng = SplitMix64(seed: seed ^ 0x7E1C ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
        let baseKm = Int(rng.next() % 400_000)
        let perExport = Int(rng.next() % 3) == 0 ? 0 : Int(rng.next() % 5_000) // a third stand still
        var status = Self.statuses[Int(rng.next() % UInt64(Self.statuses.count))]
        if generation > 0, i % 7 == generation % 7 { status = status == "OFICINA" ? "ATIVO" : "OFICINA" }
        return Vehicle(placa: plate(i), modelo: Self.models[Int(rng.next() % UInt64(Self.models.count))], ano: 2010 + Int(rng.next() % 15),
                       km: baseKm + generation * perExport, status: status,
                       atualizadoEm: 1_735_700_400 + Int64(generation) * 86_400 + Int64(i) * 37)
    }

    /// Maintenance record `k` (0-based) of a fleet with `vehicles` vehicles in its first export.
    public func maintenance(_ k: Int, vehicles: Int) -> Maintenance {
        var rng = SplitMix64(seed: seed ^ 0x3A11 ^ (UInt64(k) &* 0xBF58_476D_1CE4_E5B9))
        let vehicle = Int(rng.next() % UInt64(max(1, vehicles)))
        let placa = isOrphan(k) ? "ZZZ\(k % 10)Z\(String(format: "%02d", k % 100))" : plate(vehicle)
        let day = 20089 + k / 20 // from 2025-01-01, twenty records a day
        let (y, m, d) = civil(day)
        return Maintenance(id: k + 1, placa: placa, data: (y, m, d), tipo: Self.kinds[Int(rng.next() % UInt64(Self.kinds.count))],
                           custo: 5_000 + Int(rng.next() % 2_500_000), oficina: Self.shops[Int(rng.next() % UInt64(Self.shops.count))])
    }

    /// Records naming a plate outside the register.
    public func isOrphan(_ k: Int) -> Bool { k % 250 == 249 }

    public func vehicleLine(_ v: Vehicle) -> [UInt8] {
        let (y, m, d) = civil(Int(v.atualizadoEm / 86_400))
        let s = Int(v.atualizadoEm % 86_400)
        let when = String(format: "%02d/%02d/%04d %02d:%02d:%02d", d, m, y, s / 3600, s / 60 % 60, s % 60)
        return encode1252("\(v.placa);\(v.modelo);\(v.ano);\(v.km);\(v.status);\(when)") + [0x0D, 0x0A]
    }

    public func maintenanceLine(_ r: Maintenance) -> [UInt8] {
        let cost = "\(r.custo / 100),\(String(format: "%02d", r.custo % 100))"
        let date = String(format: "%02d/%02d/%04d", r.data.day, r.data.month, r.data.year)
        return encode1252("\(r.id);\(r.placa);\(date);\(r.tipo);\(cost);\(r.oficina)") + [0x0D, 0x0A]
    }

    /// Rewrites `veiculos.csv` in place with export `generation`; returns the number of vehicles.
    @discardableResult
    public func writeVehicles(path: String, vehicles: Int, generation: Int) throws -> Int {
        let n = vehicleCount(vehicles, generation: generation)
        var out = encode1252(Self.vehicleHeader) + [0x0D, 0x0A]
        for i in 0..<n { out += vehicleLine(vehicle(i, generation: generation)) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.truncate(atOffset: 0)
        try h.write(contentsOf: out)
        return n
    }

    /// Appends records to `manutencoes.csv` until it holds `total`; returns how many were added.
    @discardableResult
    public func appendMaintenance(path: String, vehicles: Int, total: Int) throws -> Int {
        let existing = try MachineSimulator.countRows(path: path)
        guard total > existing else { return 0 }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: Data(encode1252(Self.maintenanceHeader) + [0x0D, 0x0A]))
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seekToEnd()
        var chunk: [UInt8] = []
        for k in existing..<total { chunk += maintenanceLine(maintenance(k, vehicles: vehicles)) }
        try h.write(contentsOf: chunk)
        return total - existing
    }

    func civil(_ days: Int) -> (Int, Int, Int) {
        let (y, m, d, _, _, _) = MachineSimulator(style: .xp, seed: 0).civil(Int64(days) * 86_400)
        return (y, m, d)
    }

    func encode1252(_ s: String) -> [UInt8] { MachineSimulator(style: .xp, seed: 0).encode1252(s) }
}
