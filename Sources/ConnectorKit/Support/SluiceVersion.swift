/// The version `sluice --version` prints and files Sluice writes carry (Parquet's `created_by`).
public enum SluiceVersion {
    public static let current = "0.1.0"
}
