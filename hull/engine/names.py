"""Container ids and Docker-style random names ("adjective_surname").

Docker's ``namesgenerator`` pairs an adjective with the surname of a
scientist or engineer; these lists are our own, of similar size, in the same
spirit. Like Docker, ``boring_wozniak`` is never produced, and a retry (after
a name collision) appends a digit.
"""

from __future__ import annotations

import secrets


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ADJECTIVES = _words(
    "admiring adoring affectionate agitated amazing angry awesome beautiful blissful bold "
    "boring brave busy calm careful charming clever cool compassionate competent condescending "
    "confident cranky crazy curious dazzling determined distracted dreamy eager ecstatic "
    "elastic elated elegant eloquent epic exciting fervent festive flamboyant focused friendly "
    "frosty funny gallant generous gifted goofy gracious great happy hardcore heuristic "
    "hopeful hungry infallible inspiring intelligent interesting jolly jovial keen kind "
    "laughing loving lucid magical modest musing mystifying naughty nervous nice nifty "
    "nimble nostalgic objective optimistic patient peaceful pedantic pensive practical "
    "priceless quirky quizzical recursing relaxed reverent romantic sad serene sharp silly "
    "sleepy stoic strange stupefied suspicious sweet tender thirsty trusting unruffled "
    "upbeat vibrant vigilant vigorous wizardly wonderful xenodochial youthful zealous zen "
    "amiable brisk candid dapper earnest fearless gentle humble jaunty lively mellow "
    "plucky radiant spirited steady sunny tidy valiant witty"
)

SURNAMES = _words(
    "agnesi albattani allen almeida antonelli archimedes ardinghelli aryabhata austin "
    "babbage banach banzai bardeen bartik bassi beaver bell benz bhabha bhaskara black "
    "blackburn blackwell bohr booth borg bose bouman boyd brahmagupta brattain brown "
    "buck burnell cannon carson cartwright carver cerf chandrasekhar chaplygin chatelet "
    "chatterjee chebyshev clarke cohen colden cori cray curie darwin davinci dewdney "
    "dhawan diffie dijkstra dirac driscoll dubinsky easley edison einstein elbakyan "
    "elgamal elion ellis engelbart euclid euler faraday feistel fermat fermi feynman "
    "franklin gagarin galileo galois ganguly gates gauss germain goldberg goldstine "
    "goldwasser golick goodall gould greider grothendieck haibt hamilton haslett hawking "
    "heisenberg hellman hermann herschel hertz heyrovsky hodgkin hofstadter hoover hopper "
    "hugle hypatia ishizaka jackson jang jemison jennings jepsen johnson joliot jones "
    "kalam kapitsa kare keldysh keller kepler khayyam khorana kilby kirch knuth "
    "kowalevski lalande lamarr lamport leakey leavitt lederberg lehmann lewin lichterman "
    "liskov lovelace lumiere mahavira margulis matsumoto maxwell mayer mccarthy mcclintock "
    "mclaren mclean mcnulty meitner mendel mendeleev meninsky merkle mestorf mirzakhani "
    "montalcini moore morse moser murdock napier nash neumann newton nightingale nobel "
    "noether northcutt noyce panini pare pascal pasteur payne perlman pike poincare "
    "poitras proskuriakova ptolemy raman ramanujan rhodes ride ritchie robinson roentgen "
    "rosalind rubin saha sammet sanderson satoshi shamir shannon shaw shirley shockley "
    "shtern sinoussi snyder solomon spence stonebraker sutherland swanson swartz swirles "
    "taussig tesla tharp thompson torvalds tu turing varahamihira vaughan villani "
    "visvesvaraya volhard wescoff wilbur wiles williams williamson wilson wing wozniak "
    "wright wu yalow yonath zhukovsky"
)


def random_name(retry: int = 0) -> str:
    """A random "adjective_surname"; ``retry`` > 0 appends a digit, as Docker does."""
    while True:
        name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
        if name != "boring_wozniak":  # Steve Wozniak is not boring (Docker's rule)
            break
    if retry > 0:
        name += str(secrets.randbelow(10))
    return name


def new_id() -> str:
    """A random 64-hex container or exec id whose short form is not all digits (as Docker)."""
    while True:
        value = secrets.token_hex(32)
        if not value[:12].isdigit():
            return value


__all__ = ["ADJECTIVES", "SURNAMES", "new_id", "random_name"]
