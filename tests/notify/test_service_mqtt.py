"""``nvr demo`` with MQTT configured: the real service announces its camera to Home
Assistant through a real mosquitto, reports it online, signs off on SIGTERM, and never
logs the broker password; a bell button reporting on MQTT presses a camera's doorbell.
(Without the key nothing connects: test_notifier.py.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiomqtt

from tests.service.test_serve import start
from tests.support.mosquitto import Broker, Listener

MQTT_PASSWORD = "Broker-Pass-7Qk2-never-logged"


async def test_the_service_announces_its_cameras_and_signs_off(
    mosquitto: Broker, tmp_path: Path
) -> None:
    config = tmp_path / "nvr.yaml"
    config.write_text(
        "logging:\n  level: debug\n"
        "notifications:\n"
        "  mqtt:\n"
        "    enabled: true\n"
        f"    host: {mosquitto.host}\n"
        f"    port: {mosquitto.port}\n"
        "    username: porchlight\n"
        "    password: ${MQTT_PW}\n"
        "demo:\n  enabled: 'on'\n"
        "cameras:\n"
        "  - name: gate\n"
        "    main_url: rtsp://127.0.0.1:9/none\n"  # nothing there: the camera is down
        "    record: 'off'\n"
        "    doorbell_topic: bells/gate\n"
    )
    async with Listener(mosquitto) as listener:
        run = start(["demo", "--config", str(config)], tmp_path, env={"MQTT_PW": MQTT_PASSWORD})
        try:
            await listener.wait_for("porchlight/availability", b"online", timeout=60)
            motion = await listener.wait_for("porchlight/demo-doorbell/motion", timeout=60)
            await listener.wait_for("porchlight/demo-doorbell/connectivity", b"ON", timeout=60)
            await listener.wait_for("porchlight/gate/connectivity", b"OFF", timeout=60)
            # The gate's bell button reports on MQTT: a press comes back out as the gate's
            # doorbell event (through the service's event flow, like an ONVIF press).
            async with asyncio.timeout(60):
                while "listening for doorbell presses" not in run.stderr.read_text():
                    await asyncio.sleep(0.05)
            async with aiomqtt.Client(mosquitto.host, mosquitto.port) as button:
                await button.publish("bells/gate", b"pressed", qos=1)
            press = await listener.wait_for("porchlight/gate/doorbell", timeout=60)
            mark = len(listener.messages)
            code, log = run.stop()
            await listener.wait_for("porchlight/availability", b"offline", after=mark)
        finally:
            run.close()
    config_topic = next(
        m.topic for m in listener.messages if m.topic.startswith("homeassistant/event/porchlight_")
    )
    assert code == 0, log
    assert press.json()["event_type"] == "press"
    assert motion.payload in (b"ON", b"OFF")
    # A motion event open at the stop is ended by the cameras' stop, and that goes out too.
    assert listener.on("porchlight/demo-doorbell/motion")[-1].payload == b"OFF"
    assert config_topic.endswith("/demo-doorbell_doorbell/config")
    assert "connected to the MQTT broker" in log
    assert MQTT_PASSWORD not in log
