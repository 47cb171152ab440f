"""The verify suite of each forwarding method, written once and run by two kinds of scenario: the
single-method ones (dr, nat, tun: one VIP, every real server behind it) and `methods` (one director,
a VIP per method, each served by its own pair of real servers).

A scenario's test module subclasses DrChecks, NatChecks or TunChecks as a `Test...` class and gives it
a `site` fixture: the lab seen as the real servers behind one VIP (lvs_checks.Lab.serving), the VIP and
the client's address. Each suite's `after_reboot` holds what must be back once every guest rebooted
with no Ansible run in between; the test module reboots (once for all its sites) and calls it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import lvs_checks as lvs


@dataclass
class Site:
    lab: lvs.Lab        # seen as the real servers behind this VIP only
    vip: str
    client: str         # the client's address (the lab namespace's) on the director's client LAN

    @property
    def services(self) -> dict:
        first, second = self.lab.realservers
        return lvs.contract(first, second)


class SchedulingChecks:
    """What every method must show: the contracted table, with the method's forwarding word (FORWARD,
    as ipvsadm prints it), and from the client rr, wrr and persistence."""

    FORWARD = ""

    def test_director_table_is_the_contract(self, site):
        lvs.check_table(site.lab, site.vip, self.FORWARD, site.services)

    def test_rr_spreads_new_connections_evenly(self, site):
        print(lvs.check_distribution(site.lab, site.vip, site.client, 80, site.services[80][1]))

    def test_wrr_follows_the_weights(self, site):
        print(lvs.check_distribution(site.lab, site.vip, site.client, 81, site.services[81][1]))

    def test_persistence_keeps_the_client_on_one_realserver(self, site):
        print(lvs.check_persistence(site.lab, site.vip, site.client, 8080))


class DrChecks(SchedulingChecks):
    """LVS-DR: real servers on the director's LAN hold the VIP without answering ARP and reply directly."""

    FORWARD = "Route"

    def test_realservers_share_the_directors_lan(self, site):
        lab = site.lab
        assert lab.nic_towards(lab.directors[0], site.client)["interface"]
        for rs in lab.realservers:
            assert lab.nic_towards(rs, site.client), f"{rs} is not on the client's LAN"

    def test_realservers_hold_the_vip_without_answering_arp(self, site):
        lab = site.lab
        print(lvs.check_vip_on(lab, site.vip))
        print(lvs.check_arp_sysctls(lab, lambda rs: [lab.nic_towards(rs, site.client)["interface"]]))

    def test_no_false_load_balancing(self, site):
        print(lvs.check_vip_owned_by_director(site.lab, site.vip, site.client))

    def test_replies_bypass_the_director(self, site):
        lab = site.lab
        fig = lvs.check_replies_bypass_director(lab, site.vip, site.client)
        rs_macs = {lab.mac(rs, lab.nic_towards(rs, site.client)["interface"]) for rs in lab.realservers}
        assert set(fig["reply_src_macs"]) == rs_macs, \
            f"replies from {fig['reply_src_macs']}, want the real servers {rs_macs}"
        print(fig)

    def test_director_counts_no_outgoing_packets(self, site):
        print(lvs.check_outpkts(site.lab, site.vip, site.client, 80, through_director=False))

    @staticmethod
    def after_reboot(site) -> None:
        """The director's VIP on its client-facing NIC, each real server's VIP on lo with the ARP
        settings that keep it silent."""
        lab, vip = site.lab, site.vip
        nic = lab.nic_towards(lab.directors[0], site.client)["interface"]
        out = lvs.guest_run(lab, lab.directors[0], f"ip -o -4 address show dev {nic}").stdout
        assert f"inet {vip}/32" in out, f"the director after the reboot: no VIP {vip} on {nic}: {out!r}"
        for rs in lab.realservers:
            out = lvs.guest_run(lab, rs, f"ip -o -4 address show dev lo to {vip}/32; "
                                         "sysctl -n net.ipv4.conf.all.arp_ignore net.ipv4.conf.all.arp_announce").stdout
            assert f"inet {vip}/32" in out and out.split()[-2:] == ["1", "2"], f"{rs} after the reboot: {out!r}"


class RemotePairChecks(SchedulingChecks):
    """NAT and TUN real servers are on no LAN of the client: the VIP is the director's alone."""

    def test_the_director_owns_the_vip(self, site):
        print(lvs.check_vip_owned_by_director(site.lab, site.vip, site.client, flush_on_realservers=False))


class NatChecks(RemotePairChecks):
    """LVS-NAT: real servers on another LAN route back through the director, which rewrites both ways."""

    FORWARD = "Masq"

    def test_realservers_sit_behind_the_director(self, site):
        """Another subnet than the client's, default route via the director's address on their LAN."""
        lab = site.lab
        director = lab.directors[0]
        client_net = ipaddress.ip_interface(
            "{address}/{prefix}".format(**lab.nic_towards(director, site.client))).network
        for rs in lab.realservers:
            address = lab.address(rs)
            assert ipaddress.ip_address(address) not in client_net, \
                f"{rs} {address} is on the client's LAN {client_net}"
            dip = lab.nic_towards(director, address)["address"]
            route = lab.hosts[rs].check_output("ip -4 route show default")
            assert f"default via {dip} " in route + " ", f"{rs}: default route {route!r}, want via {dip}"

    def test_replies_come_back_through_the_director_from_the_vip(self, site):
        print(lvs.check_replies_through_director(site.lab, site.vip, site.client))

    def test_director_counts_outgoing_packets(self, site):
        print(lvs.check_outpkts(site.lab, site.vip, site.client, 80, through_director=True))

    @staticmethod
    def after_reboot(site) -> None:
        """Each real server's default route goes through the director again. The lab sets no route on
        them and brings their LAN up where a host's own network configuration would (lab-net.service):
        the route is the role's work, done once the gateway is reachable."""
        lab = site.lab
        for rs in lab.realservers:
            gateway = lab.nic_towards(lab.directors[0], lab.address(rs))["address"]
            route = lvs.guest_run(lab, rs, "ip -4 route show default").stdout
            assert f"default via {gateway} " in route, f"{rs} after the reboot: {route!r}, want via {gateway}"


class TunChecks(RemotePairChecks):
    """LVS-TUN: real servers a routed hop away take the requests out of an IPIP tunnel and reply directly."""

    FORWARD = "Tunnel"

    def test_realservers_are_a_routed_hop_away(self, site):
        """Not on any LAN of the director: it reaches them only through a gateway."""
        lab = site.lab
        director = lab.directors[0]
        director_nets = [ipaddress.ip_interface(f"{n['address']}/{n['prefix']}").network
                         for n in lab.hostvars[director]["lab_nics"].values() if n["address"]]
        for rs in lab.realservers:
            address = lab.address(rs)
            assert not any(ipaddress.ip_address(address) in net for net in director_nets), \
                f"{rs} {address} is on a LAN of the director {director_nets}"
            route = lab.director.check_output(f"ip -4 route get {address}")
            assert " via " in route, f"the director reaches {rs} without a gateway: {route!r}"

    def test_realservers_hold_the_vip_on_tunl0(self, site):
        lab = site.lab
        print(lvs.check_vip_on(lab, site.vip, "tunl0"))
        print(lvs.check_rp_filter_off(lab, "tunl0"))
        print(lvs.check_arp_sysctls(lab, lambda rs: [n["interface"] for n in lab.hostvars[rs]["lab_nics"].values()]))

    def test_requests_arrive_through_the_tunnel(self, site):
        print(lvs.check_tunnel_carries(site.lab, site.vip, site.client))

    def test_clients_are_told_a_segment_size_that_fits_the_tunnel(self, site):
        print(lvs.check_tun_mss(site.lab, site.vip, site.client))

    def test_replies_bypass_the_director(self, site):
        lab = site.lab
        fig = lvs.check_replies_bypass_director(lab, site.vip, site.client, encap=lvs.IPIP_OVERHEAD)
        rs_macs = {lab.mac(rs, n["interface"]) for rs in lab.realservers for n in lab.hostvars[rs]["lab_nics"].values()}
        assert set(fig["reply_src_macs"]) == rs_macs, \
            f"replies from {fig['reply_src_macs']}, want the real servers {rs_macs}"
        print(fig)

    def test_director_counts_no_outgoing_packets(self, site):
        print(lvs.check_outpkts(site.lab, site.vip, site.client, 80, through_director=False))

    @staticmethod
    def after_reboot(site) -> None:
        """The director's table came back whole, ipip destinations included (a rules file that ipvsadm -R
        refused half-way once left the VIP with no real server), and each real server holds the VIP on
        tunl0 with reverse-path filtering off and the MSS clamp loaded."""
        for rs in site.lab.realservers:
            out = lvs.guest_run(site.lab, rs, f"ip -o -4 address show dev tunl0 to {site.vip}/32; "
                                              "sysctl -n net.ipv4.conf.all.rp_filter net.ipv4.conf.tunl0.rp_filter").stdout
            assert f"inet {site.vip}/32" in out, f"{rs} after the reboot: no VIP on tunl0: {out!r}"
            assert max(int(v) for v in out.split()[-2:]) in (0, 2), f"{rs} after the reboot: rp_filter {out!r}"
            clamp = lvs.guest_run(site.lab, rs, "nft list chain ip lvs_realserver tun_mss").stdout
            assert "maxseg size set" in clamp, f"{rs} after the reboot: no MSS clamp: {clamp!r}"


def check_reboot(lab: lvs.Lab, sites: list, hosts: list | None = None) -> dict:
    """Every guest (or `hosts`) rebooted at once; then, for each (suite, site): fresh connections reach every
    real server behind its VIP, and what the suite's `after_reboot` names is back."""
    figures = lvs.reboot_cluster(lab, hosts=hosts)
    figures["served"] = {}
    for suite, site in sites:
        figures["served"][site.vip] = lvs.check_answers(site.lab, site.vip, site.client)
        suite.after_reboot(site)
    return figures
