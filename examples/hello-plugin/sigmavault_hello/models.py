"""Request, response and event models of the hello plugin."""

from pydantic import BaseModel, Field


class GreetBody(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["Ada"])


class Greeting(BaseModel):
    message: str
    count: int = Field(description="how many greetings this daemon has said so far")


class CountdownBody(BaseModel):
    seconds: float = Field(ge=0, le=3600, description="how long the job runs")
    steps: int = Field(10, ge=1, le=1000)
    lock: str | None = Field(None, max_length=64, description="jobs with the same lock run one at a time")


class HelloStats(BaseModel):
    greetings: int = Field(description="greetings said so far")
    last: str | None = Field(description="who was greeted last")


class Greeted(BaseModel):
    name: str
    count: int
