-- The fleet database as its DBA made it: vehicles keyed by plate, maintenance records that must
-- name a registered vehicle. Sluice checks these tables against the pipelines and loads them.
CREATE TABLE IF NOT EXISTS veiculos (
    placa         text PRIMARY KEY,
    modelo        text NOT NULL,
    ano           integer,
    km            bigint,
    status        text,
    atualizado_em timestamptz
);
CREATE TABLE IF NOT EXISTS manutencoes (
    id      bigint PRIMARY KEY,
    placa   text NOT NULL REFERENCES veiculos (placa),
    data    date NOT NULL,
    tipo    text,
    custo   numeric(12,2),
    oficina text
);
