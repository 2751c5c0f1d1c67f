"""Which URLs a webhook may target: no request forged towards the city's own network (SSRF).

A target is checked when a subscription is created or changed, and again before every send: the host is
resolved, every address it resolves to must be public, and the POST then connects to one of those checked
addresses (the host name travels in `Host` and TLS SNI), so a DNS answer that changes between the check and
the connection (DNS rebinding) cannot redirect it. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Ranges Python's ipaddress flags only through is_global (or not at all), named for the refusal message.
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL may not be a webhook target; the message (French) says why."""


@dataclass(frozen=True)
class TargetPolicy:
    """What configuration allows: plain http, and addresses that are not public (both off by default)."""

    allow_http: bool = False
    allow_private: bool = False


@dataclass(frozen=True)
class CheckedTarget:
    """A target URL and the addresses its host resolved to, all checked: connect to one of these only."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


def address_refusal(address: IPAddress) -> str | None:
    """Why a request to this address would reach a non-public network (in French), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv6 form that carries an IPv4 address reaches that IPv4 address: judge the one inside.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            inner = address_refusal(embedded)
            return f"{inner} (adresse IPv4 contenue dans {address})" if inner else None
    if address.is_unspecified:
        return "adresse non spécifiée"
    if address.is_loopback:
        return "adresse de bouclage (loopback)"
    if address.is_link_local:
        return "adresse lien-local (dont le service de métadonnées 169.254.169.254)"
    if address.is_multicast:
        return "adresse multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "adresse partagée d'opérateur (CGNAT, 100.64.0.0/10)"
    if address.is_private:
        return "adresse privée"
    if address.is_reserved:
        return "adresse réservée"
    if not address.is_global:
        return "adresse non publique"
    return None


def _split(url: str, policy: TargetPolicy) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"URL invalide : {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme == "http" and not policy.allow_http:
        raise UnsafeTarget("L'URL doit commencer par https:// (le http non chiffré n'est pas autorisé).")
    if scheme not in ("http", "https"):
        raise UnsafeTarget("L'URL doit commencer par https://.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget(
            "L'URL ne doit pas contenir d'identifiants (utilisateur:mot de passe@) : "
            "les requêtes sont authentifiées par leur signature."
        )
    host = parts.hostname
    if not host:
        raise UnsafeTarget("L'URL doit nommer un hôte.")
    if parts.fragment:
        raise UnsafeTarget("L'URL ne doit pas contenir de fragment (#…).")
    return parts, host, port or (443 if scheme == "https" else 80)


async def _resolve(host: str, port: int) -> tuple[IPAddress, ...]:
    # getaddrinfo is what an HTTP client would use: it reads every spelling of an address the C library
    # accepts ("0x7f000001", "2130706433", "127.1"), so judging its answers leaves none of them out.
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"L'hôte « {host} » ne peut pas être résolu ({exc}).") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        # An IPv6 scope ("fe80::1%eth0") is not part of the address.
        address = ipaddress.ip_address(str(sockaddr[0]).partition("%")[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(f"L'hôte « {host} » ne se résout en aucune adresse.")
    return tuple(addresses)


async def check_target(url: str, policy: TargetPolicy) -> CheckedTarget:
    """The URL with its resolved and checked addresses; raises UnsafeTarget with a French reason otherwise."""
    parts, host, port = _split(url, policy)
    addresses = await _resolve(host, port)
    if not policy.allow_private:
        # Every address must be public: a client may pick any of them, and an attacker controls the order.
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                shown = host if host == str(address) else f"« {host} » ({address})"
                raise UnsafeTarget(
                    f"Cible refusée (protection SSRF) : l'hôte {shown} est une {reason}. "
                    "Un webhook ne peut viser qu'une adresse publique."
                )
    return CheckedTarget(url=url, scheme=parts.scheme.lower(), host=host, port=port, addresses=addresses)
