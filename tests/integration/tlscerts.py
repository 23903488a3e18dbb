"""A test certificate authority made with the openssl command line, in a
temporary folder: a CA, and server certificates it signs (valid, expired,
for other names). Nothing here is a mock: ringcast loads the files, and the
clients verify them against ca.pem as they would a real CA's."""

import os
import re
import ssl
import subprocess
import tempfile


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


class CertAuthority:
    def __init__(self, folder=None):
        self.dir = folder or tempfile.mkdtemp(prefix="ringcast-tls-")
        self.ca_pem = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.ca_key, "-out", self.ca_pem, "-days", "3", "-subj",
                "/CN=ringcast test CA", cwd=self.dir)
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        open(os.path.join(self.dir, "index.txt"), "w").close()
        with open(os.path.join(self.dir, "serial"), "w") as f:
            f.write("1000\n")
        self.issued = 0

    def issue(self, name, dns=("localhost",), ips=("127.0.0.1",), expired=False):
        """Signs a certificate for |dns| and |ips|; returns (cert.pem, key.pem)
        paths named after |name|. With |expired|, it ended in 2020."""
        self.issued += 1
        cert = os.path.join(self.dir, name + ".pem")
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        ext = os.path.join(self.dir, name + ".ext")
        alt = ",".join(["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips])
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n" % alt)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=%s" % (dns[0] if dns else name),
                cwd=self.dir)
        conf = os.path.join(self.dir, "ca.cnf")
        with open(conf, "w") as f:
            f.write("[ca]\ndefault_ca=test\n[test]\ndir=%s\ndatabase=$dir/index.txt\n"
                    "new_certs_dir=$dir/newcerts\nserial=$dir/serial\ndefault_md=sha256\n"
                    "policy=any\nunique_subject=no\ncopy_extensions=none\n"
                    "[any]\ncommonName=supplied\n" % self.dir)
        dates = (["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] if expired
                 else ["-days", "2"])
        openssl("ca", "-batch", "-config", conf, "-cert", self.ca_pem, "-keyfile", self.ca_key,
                "-in", csr, "-out", cert, "-extfile", ext, "-notext", *dates, cwd=self.dir)
        return cert, key


TLS_CLIENT_PORT = re.compile(r"ringcast TLS listening: client=\S+:(\d+)")


def server_flags(ca, name="server"):
    """The flags of a TLS client port on a free port with a new certificate
    for localhost and 127.0.0.1."""
    cert, key = ca.issue(name)
    return ["--tls-listen", "127.0.0.1:0", "--tls-cert", cert, "--tls-key", key]


class TlsView:
    """A started conftest.Server seen through its TLS client port: ws_url and
    http_url are wss:// and https://, port is the TLS port, tls_context
    verifies the test CA (rawws.RawWS uses it); everything else (the publish
    port, the log, stop) is the server's."""

    def __init__(self, server, ca):
        self._server = server
        self.ca = ca
        self.port = int(server.wait_for_log(TLS_CLIENT_PORT.pattern).group(1))
        self.tls_context = ssl.create_default_context(cafile=ca.ca_pem)

    def __getattr__(self, name):
        return getattr(self._server, name)

    @property
    def ws_url(self):
        return "wss://%s:%d/v1/ws" % (self.host, self.port)

    @property
    def http_url(self):
        return "https://%s:%d" % (self.host, self.port)
