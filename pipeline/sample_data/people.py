"""Names of operators and the customers who contact them.

Operator names are Ukrainian, Russian or English in their own script, because scorecards show
them that way. Customers exist only as contact data (phone, e-mail, social id): the sample writes
them in the varied formats real exports use, so pseudonymisation at ingest has to normalise them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

_UK_FIRST_F = ("Ганна", "Олена", "Оксана", "Ірина", "Наталія", "Юлія", "Марія", "Тетяна", "Світлана",
               "Катерина", "Софія", "Дарина", "Вікторія", "Людмила", "Галина")
_UK_FIRST_M = ("Андрій", "Олександр", "Дмитро", "Сергій", "Богдан", "Тарас", "Максим", "Іван",
               "Володимир", "Олег", "Юрій", "Віталій", "Назар", "Ярослав", "Євген")
_UK_LAST = ("Коваленко", "Шевченко", "Бондаренко", "Ткаченко", "Кравченко", "Олійник", "Мельник",
            "Шевчук", "Поліщук", "Марченко", "Лисенко", "Руденко", "Савченко", "Петренко", "Мороз",
            "Гончар", "Ковальчук", "Бойко", "Дяченко", "Кузьменко", "Їжакевич", "Гнатюк")
_RU_FIRST_F = ("Анна", "Екатерина", "Мария", "Ольга", "Татьяна", "Елена", "Наталья", "Ирина",
               "Светлана", "Юлия", "Дарья", "Ксения", "Алина", "Полина")
_RU_FIRST_M = ("Дмитрий", "Алексей", "Сергей", "Андрей", "Михаил", "Иван", "Николай", "Павел",
               "Артём", "Евгений", "Роман", "Кирилл", "Владимир", "Григорий")
_RU_LAST_M = ("Соколов", "Иванов", "Смирнов", "Кузнецов", "Попов", "Волков", "Морозов", "Новиков",
              "Лебедев", "Козлов", "Орлов", "Фёдоров", "Егоров", "Павлов", "Зайцев", "Белов",
              "Медведев", "Никитин", "Григорьев", "Алексеев")
_EN_FIRST_F = ("Olivia", "Emma", "Sophie", "Emily", "Grace", "Charlotte", "Amelia", "Hannah")
_EN_FIRST_M = ("James", "Oliver", "Jack", "Thomas", "William", "Daniel", "Harry", "George")
_EN_LAST = ("Brown", "Smith", "Taylor", "Wilson", "Evans", "Walker", "Wright", "Robinson", "Hughes",
            "Clarke")

# Transliterated name parts for customer e-mail addresses.
_LAT_FIRST = ("ivan", "olga", "andrii", "oksana", "dmitry", "natalia", "serhii", "yulia", "maksym",
              "anna", "pavel", "iryna", "oleg", "kateryna", "roman", "svetlana", "taras", "elena",
              "bohdan", "daria", "nikolay", "sofiia", "artem", "marina", "yurii", "alina", "viktor",
              "tetiana", "mikhail", "ksenia")
_LAT_LAST = ("petrov", "kovalenko", "ivanova", "shevchenko", "smirnov", "bondarenko", "sokolova",
             "melnyk", "kuznetsov", "tkachenko", "popova", "lysenko", "volkov", "marchenko", "orlova",
             "boyko", "novikov", "kravchenko", "morozova", "savchenko", "lebedev", "rudenko",
             "egorova", "polishchuk", "belov", "honchar")
_DOMAINS = {"RU": ("mail.ru", "yandex.ru", "gmail.com", "bk.ru", "rambler.ru", "list.ru"),
            "UA": ("ukr.net", "gmail.com", "i.ua", "meta.ua", "outlook.com")}
# Mobile prefixes that libphonenumber accepts as valid.
_RU_MOBILE = ("903", "905", "906", "909", "912", "915", "916", "917", "919", "920", "921", "925",
              "926", "929", "950", "951", "960", "961", "977", "985", "999")
_UA_MOBILE = ("50", "63", "66", "67", "68", "73", "93", "95", "96", "97", "98", "99")

ANONYMOUS_CALLERS = ("anonymous", "restricted", "anonymous", "withheld")


def operator_name(rng: random.Random, origin: str) -> str:
    """A display name in the script of its origin: `uk`, `ru` or `en`."""
    female = rng.random() < 0.62  # contact-center floors skew female
    if origin == "uk":
        first = rng.choice(_UK_FIRST_F if female else _UK_FIRST_M)
        return f"{first} {rng.choice(_UK_LAST)}"
    if origin == "ru":
        first = rng.choice(_RU_FIRST_F if female else _RU_FIRST_M)
        last = rng.choice(_RU_LAST_M)
        return f"{first} {last}{'а' if female else ''}"
    first = rng.choice(_EN_FIRST_F if female else _EN_FIRST_M)
    return f"{first} {rng.choice(_EN_LAST)}"


@dataclass
class Customer:
    number: int
    country: str          # RU or UA: the phone plan and the mail domains
    phone: str            # national significant number, digits only
    email: str
    social_id: str
    language: str
    last_reason: str = ""


def format_phone(c: Customer, rng: random.Random, style: str) -> str:
    """The same number the way different systems write it (`pbx`, `human`)."""
    n = c.phone
    if c.country == "RU":
        if style == "pbx":
            return rng.choice((f"+7{n}", f"8{n}", f"+7{n}"))
        return rng.choice((f"+7 {n[:3]} {n[3:6]}-{n[6:8]}-{n[8:]}", f"8 ({n[:3]}) {n[3:6]} {n[6:8]} {n[8:]}",
                           f"+7 ({n[:3]}) {n[3:6]}-{n[6:8]}-{n[8:]}", f"8-{n[:3]}-{n[3:6]}-{n[6:8]}-{n[8:]}"))
    if style == "pbx":
        return f"+380{n}"
    return rng.choice((f"+380 {n[:2]} {n[2:5]} {n[5:]}", f"+38 (0{n[:2]}) {n[2:5]}-{n[5:7]}-{n[7:]}",
                       f"+380 ({n[:2]}) {n[2:5]}-{n[5:7]}-{n[7:]}"))


def format_email(c: Customer, rng: random.Random) -> str:
    # Mail clients keep whatever case people typed; ingest lower-cases before hashing.
    if rng.random() < 0.06:
        local, domain = c.email.split("@")
        return f"{local.title()}@{domain.capitalize()}"
    return c.email


@dataclass
class CustomerBook:
    """Every customer the sample has seen, created on demand with unique phone, e-mail and id."""

    rng: random.Random
    people: list[Customer] = field(default_factory=list)
    _phones: set[str] = field(default_factory=set)
    _emails: set[str] = field(default_factory=set)

    def new(self, country: str, language: str) -> Customer:
        phone = self._unique_phone(country)
        email = self._unique_email(country)
        c = Customer(len(self.people) + 1, country, phone, email, f"sn{7_000_000 + len(self.people)}", language)
        self.people.append(c)
        return c

    def returning(self) -> Customer | None:
        return self.rng.choice(self.people) if self.people else None

    def _unique_phone(self, country: str) -> str:
        while True:
            if country == "RU":
                phone = self.rng.choice(_RU_MOBILE) + f"{self.rng.randrange(10_000_000):07d}"
            else:
                phone = self.rng.choice(_UA_MOBILE) + f"{self.rng.randrange(10_000_000):07d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def _unique_email(self, country: str) -> str:
        rng = self.rng
        while True:
            first, last = rng.choice(_LAT_FIRST), rng.choice(_LAT_LAST)
            pattern = rng.randrange(4)
            if pattern == 0:
                local = f"{first}.{last}"
            elif pattern == 1:
                local = f"{first[0]}.{last}{rng.randrange(1, 99)}"
            elif pattern == 2:
                local = f"{last}{rng.randrange(1960, 2007)}"
            else:
                local = f"{first}_{last}{rng.randrange(1, 999)}"
            email = f"{local}@{rng.choice(_DOMAINS[country])}"
            if email not in self._emails:
                self._emails.add(email)
                return email
