-- The second plant's fleet database, on MariaDB or MySQL: the same tables as ../schema.sql.
CREATE TABLE IF NOT EXISTS veiculos (
    placa         VARCHAR(16) PRIMARY KEY,
    modelo        VARCHAR(100) NOT NULL,
    ano           INT,
    km            BIGINT,
    status        VARCHAR(30),
    atualizado_em DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE TABLE IF NOT EXISTS manutencoes (
    id      BIGINT PRIMARY KEY,
    placa   VARCHAR(16) NOT NULL,
    data    DATE NOT NULL,
    tipo    VARCHAR(60),
    custo   DECIMAL(12,2),
    oficina VARCHAR(100),
    CONSTRAINT manutencoes_placa_fkey FOREIGN KEY (placa) REFERENCES veiculos (placa)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
