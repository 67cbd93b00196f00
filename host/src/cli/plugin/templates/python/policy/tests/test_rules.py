import unittest

from rules import Line, State, addressee, decide, respond


class RulesTest(unittest.TestCase):
    def test_the_named_ai_answers_and_is_remembered(self):
        self.assertEqual(
            decide(State(), ("human-said", "Guest, what now?")),
            [("remember", "guest"), respond("guest")],
        )

    def test_an_unnamed_line_goes_to_the_other_ai(self):
        decisions = decide(State(memory="claude"), ("human-said", "What now?"))
        self.assertEqual(decisions[1], respond("guest"))

    def test_autopilot_alternates_until_the_cap(self):
        state = State(autopilot=True)
        line = ("ai-finished", Line("claude", "Over to you."))
        self.assertEqual(decide(state, line), [respond("guest")])
        state.ai_turns_in_a_row = state.max_ai_turns
        self.assertEqual(decide(state, line), [("wait", None)])

    def test_the_human_barges_in(self):
        self.assertEqual(
            decide(State(holder="claude"), ("human-speech-started", None)),
            [("stop", "claude"), ("mute", "claude"), ("mute", "guest")],
        )

    def test_names_at_the_start_of_a_line(self):
        self.assertEqual(addressee("Okay, Claude, go on"), "claude")
        self.assertIsNone(addressee("what do you think"))


if __name__ == "__main__":
    unittest.main()
