#!/usr/bin/env python3
"""A PLC stand-in: a Modbus/TCP server (pymodbus) on 127.0.0.1 with 200 holding and 200 input
registers, device id 1. Any client may write its holding registers (function 16), which is how
the tests set the values they then read with Sluice.

    python3 plc.py PORT              # registers start at 0
    python3 plc.py PORT --simulate   # a press: parts counter (uint32 at 0), temperature in
                                     # tenths of a degree (int16 at 2), pressure in bar (float32
                                     # at 3), changing every 200 ms

It prints "listening on 127.0.0.1:PORT" once it accepts connections.
"""
import asyncio
import math
import sys

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice


async def simulate(port):
    """Writes the press's values through Modbus itself, as a PLC program would update them."""
    client = AsyncModbusTcpClient("127.0.0.1", port=port)
    await client.connect()
    parts, t = 0, 0.0
    while True:
        t += 0.2
        parts += 1
        temperature = round(650 + 150 * math.sin(t / 5))  # 50.0 to 80.0 degrees, in tenths
        pressure = 180.0 + 20 * math.sin(t)
        words = client.convert_to_registers(parts, client.DATATYPE.UINT32)
        words += client.convert_to_registers(temperature, client.DATATYPE.INT16)
        words += client.convert_to_registers(pressure, client.DATATYPE.FLOAT32)
        await client.write_registers(0, words, device_id=1)
        await asyncio.sleep(0.2)


async def main():
    port = int(sys.argv[1])
    device = SimDevice(id=1, simdata=([SimData(address=0, count=16, values=False, datatype=DataType.BITS)],
                                      [SimData(address=0, count=16, values=False, datatype=DataType.BITS)],
                                      [SimData(address=0, count=200, values=0, datatype=DataType.REGISTERS)],
                                      [SimData(address=0, count=200, values=list(range(200)), datatype=DataType.REGISTERS)]))
    server = ModbusTcpServer(device, address=("127.0.0.1", port))
    serving = asyncio.create_task(server.serve_forever())
    while not server.is_active():
        await asyncio.sleep(0.05)
    print(f"listening on 127.0.0.1:{port}", flush=True)
    if "--simulate" in sys.argv:
        await simulate(port)
    await serving


asyncio.run(main())
