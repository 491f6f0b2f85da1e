# A local SMTP server for the email tests: aiosmtpd on 127.0.0.1:PORT, each message saved as DIR/N.eml.
import os
import sys
import time

from aiosmtpd.controller import Controller


class Save:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        path = os.path.join(self.directory, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as f:
            f.write(envelope.content)
        os.rename(path + ".tmp", path)
        return "250 OK"


port, directory = int(sys.argv[1]), sys.argv[2]
controller = Controller(Save(directory), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
