"""The twelve values every sequence of the course runs through, in three formats.

Lesson 01's analogies and lesson 04's prompts use the same members: numerals
("5"), number words ("five") and months ("May") stand for the values 1 to 12.
"""

N_VALUES = 12
NUMERALS = [str(v) for v in range(1, N_VALUES + 1)]
NUMBER_WORDS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
