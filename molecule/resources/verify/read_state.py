"""What the operations scenario checks on a guest, read with iproute2, ipvsadm and the files themselves
(not with our modules), printed as one JSON object. Runs on the guest (standard library only)."""
import json
import os
import subprocess


def run(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def addresses(*dev):
    return sorted(line.split()[3].split('/')[0] for line in run('ip', '-o', '-4', 'address', 'show', *dev).splitlines())


def run_if(*argv):
    """run(), or None where the command is not installed."""
    try:
        return run(*argv)
    except FileNotFoundError:
        return None


def text(path):
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return None


def sysctl(name):
    return text('/proc/sys/' + name.replace('.', '/')).strip()


print(json.dumps({
    'lo': addresses('dev', 'lo'),
    'tunl0': addresses('dev', 'tunl0') if os.path.exists('/sys/class/net/tunl0') else [],
    'all': addresses(),
    'ipvs': run('ipvsadm', '-Sn'),
    'vips_file': text('/etc/lvs-cluster/vips'),
    'boot_script': text('/usr/local/sbin/lvs-realserver-boot'),
    'arp': [sysctl('net.ipv4.conf.all.arp_ignore'), sysctl('net.ipv4.conf.all.arp_announce')],
    'sysctl_d': text('/etc/sysctl.d/60-lvs-realserver.conf'),
    'modules_load': text('/etc/modules-load.d/lvs-realserver.conf'),
    'noarp_state': text('/var/lib/lvs-cluster/noarp_vip.json'),
    'nft': run_if('nft', 'list', 'table', 'inet', 'lvs_cluster'),
    'fwmark_file': text('/etc/lvs-cluster/fwmark.nft'),
    'mss_clamp': run_if('nft', 'list', 'table', 'ip', 'lvs_realserver'),
    'mss_file': text('/etc/lvs-cluster/tun-mss.nft'),
    'fwmark_unit': text('/etc/systemd/system/lvs-fwmark.service'),
    'fwmark_active': run('systemctl', 'is-active', 'lvs-fwmark.service').strip(),
    'fwmark_enabled': run('systemctl', 'is-enabled', 'lvs-fwmark.service').strip(),
    'ipv6_lo': sorted(line.split()[3].split('/')[0]
                      for line in run('ip', '-o', '-6', 'address', 'show', 'dev', 'lo').splitlines()),
    'ipv6_all': sorted(line.split()[3].split('/')[0] for line in run('ip', '-o', '-6', 'address', 'show').splitlines()),
    'venv': os.path.exists('/opt/lvs-cluster/venv'),
}))
