"""The traffic lab: real LVS topologies on QEMU guests that boot a Debian kernel with IPVS.

The host kernel of our machines has no IPVS, so every claim of the collection is proven inside these
guests. Modules: `paths` (where things live), `prereq` (what the host must have), `image` (build and
cache the guest image), `topology` (read and check a topology file), `net` (the lab namespace,
bridges and taps), `vm` (QEMU processes), `inventory` (Ansible inventory of a running lab),
`lab` (up/down of a whole lab) and `__main__` (the command line).
"""
